"""``torch.func.linearize``: a function's value at some primals and its Jacobian-vector product there, as a
function that can be called with many tangents.

``func`` runs once on the primals (the output returned, as torch's) and once more, recorded, on fresh leaves
of the same values. The recording is turned into the linear map t ↦ J·t by the double-vjp trick, as
:mod:`minigrad.autograd.forward_ad` does: the vector-Jacobian products ``g_k = J_kᵀu`` with dummy
cotangents ``u`` are computed once with ``create_graph=True`` (so each is linear in u, with a graph), and
each ``jvp_fn(*tangents)`` is one backward of ``Σ_k ⟨g_k, t_k⟩`` to the dummies. An op without a
higher-order rule raises NotImplementedError naming it when ``linearize`` is called. The recorded call runs
in a dual level of its own (:mod:`minigrad.autograd.forward_ad`), so ops that ``func`` runs under
``mg.no_grad()`` are recorded for the tangents too, as PyTorch's forward AD ignores grad mode (inside a dual
level opened by the caller, they contribute nothing).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

from .. import backend
from ..autograd import forward_ad
from ..ops.inference import inference_mode
from ..recording import is_recording, record_grad
from ..tensor import Tensor
from . import _pytree

__all__ = ["linearize"]


def _zeros(like: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor._make(backend.array_module(like.data).zeros_like(like.data), requires_grad, None, 0)


def _constant_link(product: Tensor) -> Tensor:
    """``product``'s value, requiring grad through a leaf of its own (a backward reaches no tensor of the user's)."""
    anchor = Tensor._make(backend.array_module(product.data).zeros((), dtype=product.dtype), True, None, 0)
    return product.detach() + anchor


def linearize(func: Callable, *primals: Any) -> tuple[Any, Callable]:
    """``(func(*primals), jvp_fn)``, as ``torch.func.linearize``.

    ``primals``: Tensors (or pytrees of them), each differentiated. ``jvp_fn(*tangents)``: ``tangents`` with
    the primals' structure, shapes, dtypes and devices (RuntimeError otherwise, torch's messages); returns
    J·tangents with the structure and shapes of ``func``'s output (detached; zeros for an output that does
    not depend on the primals; an output that is not a Tensor as it is). With tangents that require grad (and
    grad mode on) the result is differentiable w.r.t. them, as torch's (not w.r.t. the primals, as torch's).
    """
    output = func(*primals)
    out_spec = _pytree.flatten(output)[1]
    flat_primals, primals_spec = _pytree.flatten(primals)
    for p in flat_primals:
        if not isinstance(p, Tensor):
            raise RuntimeError(f"linearize(func, *primals): expected the primals to be Tensors, got {type(p)}")
    own_level = forward_ad._level is None
    with record_grad(), (forward_ad.dual_level() if own_level else contextlib.nullcontext()), \
            inference_mode(False):   # as jvp's: forward AD under mg.inference_mode() would give no tangents
        if own_level:   # the leaves are duals (their tangents unused): ops under no_grad on them still record
            leaves = [forward_ad.make_dual(p.detach(), _zeros(p)) for p in flat_primals]
            inputs = [forward_ad._handle(d) for d in leaves]   # what func's in-place ops on the duals leave
        else:
            leaves = [p.detach().requires_grad_(True) for p in flat_primals]
            inputs = leaves
        traced = func(*_pytree.unflatten(leaves, primals_spec))
        # an output that is not a Tensor (a number, a string) comes back as it is from jvp_fn, as torch's
        flat_out = [forward_ad._graph_of(out) if isinstance(out, Tensor) else out for out in _pytree.flatten(traced)[0]]
        differentiable = [out for out in flat_out if isinstance(out, Tensor) and out.requires_grad
                          and out.dtype.kind in "fc"]
        dummies = [_zeros(out, requires_grad=True) for out in differentiable]
        vjps: list = []
        if differentiable:
            try:
                vjps = list((forward_ad._passing_grad if own_level else forward_ad.forward_products)(
                    differentiable, inputs, dummies, retain_graph=True, create_graph=True, allow_unused=True))
            except NotImplementedError as error:
                raise NotImplementedError(f"linearize: the Jacobian-vector product is computed from the reverse-mode "
                                          f"graph with create_graph=True, which is not available here: {error}") \
                    from error
    primals_require_grad = any(p.requires_grad for p in flat_primals)
    shapes = [p.shape for p in flat_primals]
    devices = [p.device for p in flat_primals]
    dtypes = [p.dtype for p in flat_primals]

    def jvp_fn(*tangents: Any) -> Any:
        flat_tangents, tangents_spec = _pytree.flatten(tangents)
        if tangents_spec != primals_spec:
            raise RuntimeError(f"Expected the tangents {tangents_spec} to have the same argspec as the primals "
                               f"{primals_spec}")
        for i, t in enumerate(flat_tangents):
            if not isinstance(t, Tensor):
                raise RuntimeError(f"tangent:{i} is a {type(t).__name__}, not a Tensor")
            if t.shape != shapes[i]:
                raise RuntimeError(f"tangent:{i} with shape {t.shape} in flattened pytree doesn't match the shape "
                                   f"{shapes[i]} of the corresponding primal.")
            if t.device != devices[i]:
                raise RuntimeError(f"tangent:{i} with device {t.device} in flattened pytree doesn't match the device "
                                   f"{devices[i]} of the corresponding primal.")
            if t.dtype != dtypes[i]:
                raise RuntimeError(f"tangent:{i} with dtype {t.dtype} in flattened pytree doesn't match the dtype "
                                   f"{dtypes[i]} of the corresponding primal.")
        # tangents that require grad: J·t keeps its graph to them (linear in t, its gradient Jᵀ), as torch's
        graph = is_recording() and any(t.requires_grad for t in flat_tangents)
        # primals that require grad: torch's J·t requires grad where J reads a value computed from them (its graph
        # keeps such values as constants that require grad), its gradient w.r.t. them None: J·t is linked to a
        # leaf of its own (:func:`_constant_link`), found with a differentiable product reaching the traced leaves
        reads = not graph and primals_require_grad and is_recording()
        kept = [(g, t if graph else t.detach()) for g, t in zip(vjps, flat_tangents)
                if g is not None and g.requires_grad]
        products: list = [None] * len(dummies)
        if kept:
            with record_grad():
                products = list(forward_ad.forward_products([g for g, _ in kept], dummies, [t for _, t in kept],
                                                            retain_graph=True, create_graph=graph or reads,
                                                            allow_unused=True))
        by_output = {id(out): p for out, p in zip(differentiable, products)}
        results = []
        for out in flat_out:
            product = by_output.get(id(out))
            if not isinstance(out, Tensor):
                results.append(out)
            elif product is None:
                results.append(_zeros(out))
            else:
                results.append(product if graph else _constant_link(product) if reads and product.requires_grad
                               else product.detach())
        return _pytree.unflatten(results, out_spec)

    return output, jvp_fn
