"""SGD with momentum, dampening, Nesterov momentum and weight decay, as ``torch.optim.SGD``."""

from __future__ import annotations

from typing import Any, Iterable

import minigrad as mg

from .checks import is_number
from .optimizer import Optimizer, plus, plus_, scale_type
from .ported import check_implementation

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, as ``torch.optim.SGD``.

    g = grad + weight_decay·p; with momentum: buf = momentum·buf + (1 - dampening)·g
    (buf = g at the first step), g = g + momentum·buf if nesterov else buf;
    p ← p - lr·g. ``maximize`` ascends instead.
    """

    complex_as_real = True   # complex parameters are taken, as PyTorch's
    complex_native = True    # and stepped in complex arithmetic, as PyTorch's SGD (no view_as_real there)

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None,
                 check_finite: bool = False) -> None:
        if nesterov and is_number(momentum) and is_number(dampening) and (not momentum > 0 or dampening != 0):
            # the constructor's values, as PyTorch's (a value of the wrong kind is named by the base class)
            raise ValueError(f"SGD: nesterov momentum needs momentum > 0 and dampening = 0 "
                             f"(got momentum={momentum}, dampening={dampening})")
        check_implementation("SGD", foreach, False, differentiable, fused)   # PyTorch's keywords
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused), check_finite=check_finite)

    def _hyper(self, group: dict) -> dict:
        # A group's own momentum=0 under nesterov=True steps plainly, as PyTorch's (`SGD([{"params": biases,
        # "momentum": 0}, ...], momentum=0.9, nesterov=True)`). Nesterov momentum with dampening, which PyTorch
        # computes without checking groups, is refused here.
        hyper = super()._hyper(group)
        if hyper["nesterov"] and hyper["momentum"] != 0 and hyper["dampening"] != 0:
            raise ValueError(f"{self._name}: nesterov momentum needs momentum > 0 and dampening = 0 "
                             f"(got momentum={hyper['momentum']}, dampening={hyper['dampening']})")
        return hyper

    def _state_keys(self, hyper: dict) -> tuple[set, set]:
        return set(), {"momentum_buffer"}

    def _update(self, param: Any, grad: Any, state: dict, hyper: dict) -> None:
        # PyTorch's order: its add(alpha=) and mul_ computed as PyTorch's CPU kernels (float32 for float16, see plus)
        momentum = hyper["momentum"]
        g = -grad if hyper["maximize"] else grad
        if hyper["weight_decay"] != 0:
            g = plus(g, param, hyper["weight_decay"])
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:   # an array even where g is a NumPy scalar (a 0-dim param's g + weight_decay * param)
                buf = state["momentum_buffer"] = mg.array_module(param).array(g)
            else:
                buf *= scale_type(param, hyper)(momentum)
                plus_(buf, g, 1 - hyper["dampening"])
            g = plus(g, buf, momentum) if hyper["nesterov"] else buf
        plus_(param, g, -hyper["lr"])
