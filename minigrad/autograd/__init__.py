"""The autograd engine: op nodes, the backward walk, and PyTorch's ``torch.autograd`` functions.

- :mod:`.engine`: :class:`Function` (every differentiable op is one; a call records a node of the
  graph), the backward walk (Kahn's algorithm) and :func:`observe_backward`.
- :mod:`.functions`: ``Tensor.backward``, and :func:`backward` / :func:`grad` as PyTorch's, on the
  same walk.
- :mod:`minigrad.higher_order` (above the ops; it registers itself here): the walk of
  ``create_graph=True`` (gradients that have a graph of their own); ``gradgradcheck`` checks it.

``mg.autograd.grad`` and ``mg.autograd.backward`` are PyTorch's spellings; :mod:`.variable`: the legacy
``Variable`` of older PyTorch programs. :mod:`.graph`: PyTorch's ``torch.autograd.graph`` (saved-tensor hooks,
``save_on_cpu``, ``register_multi_grad_hook``, ``GradientEdge``, ``Node``).
"""

from __future__ import annotations

from ..overrides import is_tensor_like  # torch.autograd.is_tensor_like is torch.overrides'
from . import (
    forward_ad,  # noqa: F401  # mg.autograd.forward_ad: dual tensors (forward-mode J·t)
    function,  # noqa: F401  # mg.autograd.function: torch.autograd.function's names (once_differentiable)
    functional,  # noqa: F401  # mg.autograd.functional: PyTorch's jacobian, vjp, jvp
    graph,  # noqa: F401  # mg.autograd.graph: saved-tensor hooks, multi-grad hooks, gradient edges
    profiler,  # noqa: F401  # mg.autograd.profiler: PyTorch's profiler, record_function
)
from .custom import FunctionCtx, once_differentiable  # also gives Function its PyTorch-style `apply`
from .engine import (  # the private names: for the engine's other modules (codegen, capture) and tests
    AnomalyError,
    AxisError,
    Function,
    HookError,
    LazyGradient,
    _dense,  # noqa: F401
    _sum,  # noqa: F401
    _walk,  # noqa: F401
    current_scope,
    frees_saved,  # noqa: F401
    is_grad_enabled,
    observe_backward,
    register_hook,
    register_post_accumulate_grad_hook,
    retain_grad,
    tag,
)
from .functions import backward, grad, tensor_backward
from .grad_mode import is_multithreading_enabled, set_multithreading_enabled
from .variable import Variable

__all__ = ["AnomalyError", "AxisError", "Function", "FunctionCtx", "HookError", "LazyGradient", "backward",
           "current_scope", "grad", "once_differentiable", "is_grad_enabled", "is_multithreading_enabled",
           "is_tensor_like", "observe_backward", "register_hook", "register_post_accumulate_grad_hook",
           "retain_grad", "set_multithreading_enabled", "tag", "tensor_backward", "Variable"]
