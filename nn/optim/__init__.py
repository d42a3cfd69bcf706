"""Optimizers: SGD, Adam, AdamW, RMSprop — the update rules of ``torch.optim``.

Each ``step()`` changes the parameter arrays in place, outside the graph
(``no_grad``), with arrays on the parameters' own device: the state
(momentum buffers, moment estimates) lives beside each parameter and follows
it when a module is moved with ``to()``. Parameters are given as an iterable
of Tensors or as parameter groups (a list of dicts, each with ``"params"``
and any hyper-parameter to override for that group).

``state_dict()`` has PyTorch's layout: ``{"state": {index: {name: Tensor |
int}}, "param_groups": [{..., "params": [index, …]}]}``, where indices count
the parameters across groups in order; ``nn.save`` writes it as ``.npz``.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import minigrad as mg
from minigrad import backend
from minigrad.tensor import Tensor

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop"]


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``state_dict``.

    A subclass gives ``defaults`` (hyper-parameters with their default values)
    and ``_update(param, grad, state, group)``, which changes ``param`` (an
    array) in place.
    """

    def __init__(self, params: Iterable[Any], defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict[Tensor, dict] = {}
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, got one Tensor "
                            "(wrap it in a list)")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"

    # --- groups and hyper-parameters ---

    def add_param_group(self, group: dict) -> None:
        """Add a dict with ``"params"`` (Tensors) and optional hyper-parameters; defaults fill the rest."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{self._name}: a parameter group is a dict with a 'params' entry, got {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: parameter {i} of a group is a {type(p).__name__}, not a Tensor")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor ({p.name or p.shape}); "
                                 "optimize the leaf it was computed from")
            if p.dtype.kind != "f":
                raise TypeError(f"{self._name}: parameter {p.name or i} is {p.dtype}, not floating point")
            if id(p) in seen:
                raise ValueError(f"{self._name}: parameter {p.name or i} appears in more than one group or twice")
            seen.add(id(p))
        unknown = [k for k in group if k != "params" and k not in self.defaults]
        if unknown:
            raise TypeError(f"{self._name}: unknown hyper-parameter(s) {unknown}; known: {sorted(self.defaults)}")
        full = {"params": params}
        for key, value in self.defaults.items():
            full[key] = group.get(key, value)
        self._check_hyper(full)
        self.param_groups.append(full)

    def _check_hyper(self, group: dict) -> None:
        """Raise ValueError naming the optimizer and the value for any invalid hyper-parameter."""
        lr = group["lr"]
        if isinstance(lr, Tensor):
            lr = lr.item()
        if not isinstance(lr, (int, float)) or not lr >= 0:  # `not >=` also catches NaN
            raise ValueError(f"{self._name}: invalid learning rate lr={lr!r} (must be a number >= 0)")
        for key in ("weight_decay", "eps", "momentum"):
            if key in group and not group[key] >= 0:
                raise ValueError(f"{self._name}: invalid {key}={group[key]!r} (must be >= 0)")

    # --- stepping ---

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's ``.grad`` (or zero it in place with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure: Any = None) -> Any:
        """Update every parameter that has a gradient; ``closure`` (optional) recomputes and returns the loss."""
        loss = None
        if closure is not None:
            with mg.enable_grad():
                loss = closure()
        with mg.no_grad():
            for group in self.param_groups:
                self._check_hyper(group)
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.data
                    if backend.device_of(grad) != p.device:
                        raise ValueError(f"{self._name}: parameter {p.name or tuple(p.shape)} is on {p.device} "
                                         f"but its gradient is on {backend.device_of(grad)}")
                    state = self.state.setdefault(p, {})
                    _follow(state, p)
                    self._update(p.data, grad, state, group)
        return loss

    def _update(self, param: Any, grad: Any, state: dict, group: dict) -> None:
        raise NotImplementedError

    # --- state ---

    def _indexed(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {name: Tensor | int}}, "param_groups": [{hyper-parameters, "params": [index]}]}``.

        State arrays are copies (a snapshot) as Tensors on the parameters' device.
        """
        index = {id(p): i for i, p in enumerate(self._indexed())}
        state = {}
        for p, entries in self.state.items():
            if entries:
                state[index[id(p)]] = {k: (Tensor._make(v.copy(), False, None, 0) if backend.is_array(v) else v)
                                       for k, v in entries.items()}
        groups = []
        for group in self.param_groups:
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = [index[id(p)] for p in group["params"]]
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state from :meth:`state_dict` (or ``nn.load`` of it).

        Checks first that the groups, their sizes and every state array's shape
        match; on any mismatch nothing changes and the ValueError says what.
        Arrays (Tensors or NumPy) are copied to each parameter's device and,
        when floating point, cast to its dtype.
        """
        name = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups', got "
                             f"{sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state dict has {len(saved_groups)} parameter group(s), "
                             f"this optimizer has {len(self.param_groups)}")
        problems = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                problems.append(f"  group {i}: {len(saved['params'])} parameters in the state dict, "
                                f"{len(group['params'])} here")
        if problems:
            raise ValueError(f"{name}: the state dict does not fit; nothing was loaded:\n" + "\n".join(problems))
        # map saved indices to our parameters, group by group, position by position
        by_index = {}
        for saved, group in zip(saved_groups, self.param_groups):
            for saved_index, p in zip(saved["params"], group["params"]):
                by_index[int(saved_index)] = p
        new_state: dict[Tensor, dict] = {}
        for key, entries in dict(state_dict["state"]).items():
            p = by_index.get(int(key))
            if p is None:
                problems.append(f"  state for parameter index {key}, which no group lists")
                continue
            converted = {}
            for k, v in entries.items():
                if isinstance(v, Tensor) or backend.is_array(v):
                    array = v.data if isinstance(v, Tensor) else v
                    if array.ndim == 0 and k == "step":
                        converted[k] = int(array.item()) if array.dtype.kind in "iu" else float(array.item())
                        continue
                    if tuple(array.shape) != p.shape:
                        problems.append(f"  state[{key}][{k!r}]: shape {tuple(array.shape)} in the state dict, "
                                        f"parameter {p.name or key} has shape {p.shape}")
                        continue
                    array = backend.to_device(backend.to_numpy(array), p.device) if p.device != backend.CPU \
                        else backend.to_numpy(array)
                    dtype = p.dtype if array.dtype.kind == "f" else array.dtype
                    converted[k] = array.astype(dtype, copy=True)
                else:
                    converted[k] = v
            new_state[p] = converted
        if problems:
            raise ValueError(f"{name}: the state dict does not fit; nothing was loaded:\n" + "\n".join(problems))
        for saved, group in zip(saved_groups, self.param_groups):
            candidate = dict(group)
            for k, v in saved.items():
                if k != "params":
                    candidate[k] = tuple(v) if isinstance(v, list) and isinstance(self.defaults.get(k), tuple) else v
            self._check_hyper(candidate)
        for saved, group in zip(saved_groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    group[k] = tuple(v) if isinstance(v, list) and isinstance(self.defaults.get(k), tuple) else v
        self.state = new_state


def _follow(state: dict, p: Tensor) -> None:
    """Move a parameter's state arrays to its current device and float dtype (after ``Module.to``)."""
    for key, value in state.items():
        if backend.is_array(value):
            if backend.device_of(value) != p.device:
                value = backend.to_device(value, p.device)
            if value.dtype.kind == "f" and value.dtype != p.dtype:
                value = value.astype(p.dtype)
            state[key] = value


def _xp(array: Any) -> Any:
    return backend.array_module(array)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``.

    g = grad + weight_decay·p; with momentum: buf = momentum·buf + (1 - dampening)·g
    (buf = g at the first step), g = g + momentum·buf if nesterov else buf;
    p ← p - lr·g.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov momentum needs momentum > 0 and dampening = 0 "
                             f"(got momentum={momentum}, dampening={dampening})")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, param: Any, grad: Any, state: dict, group: dict) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        param -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba), as ``torch.optim.Adam``: weight decay is added to the gradient (L2).

    m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², p ← p - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + eps).
    ``amsgrad`` keeps the running maximum of v.
    """

    decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _check_hyper(self, group: dict) -> None:
        super()._check_hyper(group)
        betas = group["betas"]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{self._name}: invalid betas={betas!r} (two numbers in [0, 1))")

    def _update(self, param: Any, grad: Any, state: dict, group: dict) -> None:
        xp = _xp(param)
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            if self.decoupled:
                param *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * param
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (g - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (g * g)
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        if group["amsgrad"]:
            second = state.setdefault("max_exp_avg_sq", xp.zeros_like(param))
            xp.maximum(second, exp_avg_sq, out=second)
        else:
            second = exp_avg_sq
        denom = xp.sqrt(second) / bias_correction2_sqrt
        denom += eps
        param -= step_size * (exp_avg / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``:
    p ← p·(1 - lr·weight_decay) before the Adam step. Default weight_decay=1e-2."""

    decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    v ← αv + (1-α)g²; centered: a ← αa + (1-α)g, denominator √(v - a²) + eps,
    else √v + eps; with momentum: buf ← momentum·buf + g/denominator, p ← p - lr·buf,
    else p ← p - lr·g/denominator.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _check_hyper(self, group: dict) -> None:
        super()._check_hyper(group)
        if not 0.0 <= group["alpha"]:
            raise ValueError(f"RMSprop: invalid alpha={group['alpha']!r} (must be >= 0)")

    def _update(self, param: Any, grad: Any, state: dict, group: dict) -> None:
        xp = _xp(param)
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = xp.zeros_like(param)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (g * g)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - alpha) * (g - grad_avg)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            param -= lr * buf
        else:
            param -= lr * (g / avg)
