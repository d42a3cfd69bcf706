"""``minigrad.func``: PyTorch's ``torch.func`` — function transforms over minigrad's reverse-mode engine.

- :func:`functional_call` (and :func:`stack_module_state`, :func:`replace_all_batch_norm_modules_`): call a module
  with given tensors in place of its parameters and buffers.
- :func:`grad`, :func:`grad_and_value`, :func:`vjp`, :func:`jvp`, :func:`jacrev`, :func:`jacfwd`,
  :func:`hessian`: derivatives of a function, over pytrees of Tensors (:mod:`.transforms`; jvp/jacfwd in
  forward mode, built on the reverse-mode engine; nested ones need ``create_graph``).
- :func:`linearize`: a function's value and its Jacobian-vector product as a function of the tangents
  (:mod:`.linearize`, the double-vjp trick over one recording).
- :func:`vmap`: a function mapped over a batch dimension, as a loop over the batch (:mod:`.vmap`).
- :func:`functionalize`: the function itself, with PyTorch's aliasing of its outputs (:mod:`.functionalize`:
  minigrad has no functionalization pass, and needs none to give the same values).

Per-sample gradients, as in PyTorch's tutorial::

    params = {k: v.detach() for k, v in model.named_parameters()}
    def loss_fn(params, x, y):
        return F.cross_entropy(functional_call(model, params, (x.unsqueeze(0),)), y.unsqueeze(0))
    per_sample = vmap(grad(loss_fn), in_dims=(None, 0, 0))(params, x, y)   # each (B, *param.shape)
"""

from __future__ import annotations

from .functional_call import functional_call, replace_all_batch_norm_modules_, stack_module_state
from .functionalize import functionalize
from .linearize import linearize
from .transforms import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, vjp
from .vmap import vmap

__all__ = ["functional_call", "functionalize", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp",
           "linearize", "replace_all_batch_norm_modules_", "stack_module_state", "vjp", "vmap"]
