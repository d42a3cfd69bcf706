"""Round 24: a graph node's inputs as PyTorch's node has them, for ``grad_fn.next_functions`` and the
``grad_inputs``/``grad_outputs`` that ``grad_fn.register_hook``'s hooks get.

Sweep (174 cases: elementwise with tensor and number operands, clamp's spellings, where, masked_fill, reductions,
the matmul family, views, multi-output ops, fills and scatters, nn.functional layers with and without their optional
tensors, losses; after backward, against torch 2.13): 69 differed in name, ``len(next_functions)``, or the hooks'
counts. Fixed here (25):

- a convolution or transposed convolution without bias: PyTorch's ConvolutionBackward0 has (x, weight, None)
  edges and passes 3 grad_inputs (the bias's None); ours had 2 of each;
- ``x.clamp(min=t)`` (a tensor bound alone): ``next_functions`` read the node's saved arrays, so after backward
  (saved freed) it lost the absent bound's (None, 0): 3 before backward, 2 after;
- the post-hooks' ``grad_inputs`` counted our op's inputs, not PyTorch's, where ``next_functions`` already
  followed PyTorch (``x ** 2``, ``2 ** x``, ``2 - x``, ``x % 2``, ``fmod``, ``clamp``/``clamp_min``/``clamp_max``
  with number bounds, ``where``, ``masked_fill``, ``index_fill``, ``masked_scatter``, ``scatter`` of a number,
  exact ``gelu``: one grad_input per input PyTorch's node has, never the condition's, mask's or number's None);
- batch norm (training, with or without running estimates, and eval): 5 or 6 edges (eps, momentum, the running
  estimates) where PyTorch's NativeBatchNormBackward0 has (x, weight, bias); its hooks got 3 grad_outputs (the
  batch statistics) where PyTorch's get 1.

Left (44): ops that minigrad records as several nodes where PyTorch records one (layer_norm, group_norm,
instance_norm, linear's addmm, addcmul/addcdiv/addmv/baddbmm, elu/leaky_relu/softplus/logsigmoid/glu/prelu,
mse/l1/smooth_l1/huber/bce/nll/cross_entropy, std_mean/var_mean, sdpa, einsum, interpolate, pdist, unfold,
pixel_shuffle, trace, linalg.cross, embedding_bag, adaptive_avg_pool to 1), or one where PyTorch records several
(bmm's UnsafeView over Bmm, bilinear): a different graph, not a count.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn.functional as MF

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _arrays(*shapes: tuple) -> list:
    rng = np.random.default_rng(24)
    return [rng.standard_normal(shape) for shape in shapes]


def _node_view(lib, F, fn, arrays, create_graph=False):   # noqa: ANN001, ANN202, N803
    """(name, next_functions' kinds, the post-hook's (grad_inputs None-ness, len(grad_outputs))) before backward
    and after, for ``fn(lib, F, *leaves)``."""
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, F, *leaves)
    node = out.grad_fn
    seen = {}

    def hook(grad_inputs, grad_outputs):   # noqa: ANN001, ANN202
        seen["in"] = tuple(g is None for g in grad_inputs)
        seen["out"] = len(grad_outputs)

    node.register_hook(hook)

    def edges():   # noqa: ANN202
        return tuple(None if fn is None else fn.name() for fn, _ in node.next_functions)

    before = edges()
    out.sum().backward(create_graph=create_graph)
    return node.name(), before, edges(), seen["in"], seen["out"]


def _running(lib):   # noqa: ANN001, ANN202
    return lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)


CASES = {
    "conv1d_no_bias": ((lambda L, F, x, w: F.conv1d(x, w)), ((2, 3, 7), (4, 3, 3))),
    "conv2d_no_bias": ((lambda L, F, x, w: F.conv2d(x, w, padding=1)), ((2, 3, 5, 5), (4, 3, 3, 3))),
    "conv3d_no_bias": ((lambda L, F, x, w: F.conv3d(x, w)), ((1, 2, 3, 4, 4), (3, 2, 2, 2, 2))),
    "conv2d_groups_no_bias": ((lambda L, F, x, w: F.conv2d(x, w, groups=2)), ((1, 4, 5, 5), (4, 2, 3, 3))),
    "conv2d_bias": ((lambda L, F, x, w, b: F.conv2d(x, w, b)), ((2, 3, 5, 5), (4, 3, 3, 3), (4,))),
    "conv_transpose1d_no_bias": ((lambda L, F, x, w: F.conv_transpose1d(x, w)), ((2, 3, 5), (3, 4, 3))),
    "conv_transpose2d_no_bias": ((lambda L, F, x, w: F.conv_transpose2d(x, w, stride=2)), ((2, 3, 4, 4), (3, 4, 3, 3))),
    "conv_transpose2d_bias": ((lambda L, F, x, w, b: F.conv_transpose2d(x, w, b)), ((2, 3, 4, 4), (3, 4, 3, 3), (4,))),
    "clamp_min_number": ((lambda L, F, x: x.clamp(min=0.1)), ((3, 4),)),
    "clamp_max_number": ((lambda L, F, x: L.clamp(x, max=0.1)), ((3, 4),)),
    "clamp_both_numbers": ((lambda L, F, x: x.clamp(-0.1, 0.1)), ((3, 4),)),
    "clamp_min_tensor": ((lambda L, F, x, lo: x.clamp(min=lo)), ((3, 4), (3, 4))),
    "clamp_max_tensor": ((lambda L, F, x, hi: x.clamp(max=hi)), ((3, 4), (4,))),
    "clamp_both_tensors": ((lambda L, F, x, lo: x.clamp(lo, lo + 1)), ((3, 4), (3, 4))),
    "pow_number": ((lambda L, F, x: x ** 2), ((3, 4),)),
    "number_pow": ((lambda L, F, x: 2 ** x), ((3, 4),)),
    "rsub_number": ((lambda L, F, x: 2 - x), ((3, 4),)),
    "where": ((lambda L, F, x, y: L.where(x > 0, x, y)), ((3, 4), (3, 4))),
    "where_number": ((lambda L, F, x: L.where(x > 0, x, 0.0)), ((3, 4),)),
    "masked_fill": ((lambda L, F, x: x.masked_fill(x > 0, 1.0)), ((3, 4),)),
    "gelu": ((lambda L, F, x: F.gelu(x)), ((3, 4),)),
    "batch_norm_train": ((lambda L, F, x: F.batch_norm(x, None, None, training=True)), ((4, 3, 2),)),
    "batch_norm_train_affine": ((lambda L, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
                                ((4, 3, 2), (3,), (3,))),
    "batch_norm_running_weight": ((lambda L, F, x, w: F.batch_norm(x, *_running(L), w, training=True)),
                                  ((4, 3, 2), (3,))),
    "batch_norm_running_bias": ((lambda L, F, x, b: F.batch_norm(x, *_running(L), None, b, training=True)),
                                ((4, 3, 2), (3,))),
    "batch_norm_eval_affine": ((lambda L, F, x, w, b: F.batch_norm(x, *_running(L), w, b)),
                               ((4, 3, 2), (3,), (3,))),
    "batch_norm_eval_bias": ((lambda L, F, x, b: F.batch_norm(x, *_running(L), None, b)), ((4, 3), (3,))),
    "masked_fill_tensor": ((lambda L, F, x, v: x.masked_fill(x > 0, v)), ((3, 4), ())),
    "index_fill_tensor": ((lambda L, F, x, v: x.index_fill(1, L.tensor([0, 2]), v)), ((3, 4), ())),
    "masked_scatter": ((lambda L, F, x, s: x.masked_scatter(x > 0, s)), ((3, 4), (12,))),
    "scatter_number": ((lambda L, F, x: x.scatter(1, L.tensor([[0], [1], [2]]), 2.0)), ((3, 4),)),
    "remainder_number": ((lambda L, F, x: x % 2), ((3, 4),)),
    "clamp_min_function": ((lambda L, F, x: L.clamp_min(x, 0.1)), ((3, 4),)),
    "mul": ((lambda L, F, x, y: x * y), ((3, 4), (4,))),
    "mm": ((lambda L, F, x, y: x @ y), ((3, 4), (4, 2))),
    "sum_dim": ((lambda L, F, x: x.sum(0)), ((3, 4),)),
}


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("create_graph", [False, True], ids=["backward", "create_graph"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_node_inputs_as_pytorch(name: str, create_graph: bool) -> None:
    fn, shapes = CASES[name]
    arrays = _arrays(*shapes)
    expected = _node_view(torch, TF, fn, arrays, create_graph)
    assert _node_view(mg, MF, fn, arrays, create_graph) == expected


def test_hook_replaces_gradients_in_pytorch_order() -> None:
    """A post-hook on a bias-free convolution returns 3 grad_inputs (the bias's None), as PyTorch's takes; on
    ``where`` 2 (x's and y's): the replacements reach the leaves."""
    x_np, w_np, y_np = _arrays((2, 3, 5, 5), (4, 3, 3, 3), (2, 4, 3, 3))
    grads = []
    for lib, F in ((torch, TF), (mg, MF)):   # noqa: N806
        x, w = lib.tensor(x_np, requires_grad=True), lib.tensor(w_np, requires_grad=True)
        out = F.conv2d(x, w)
        out.grad_fn.register_hook(lambda gi, go: (gi[0] * 2, gi[1] * 3, None))
        chosen = lib.where(out > 0, out, lib.tensor(y_np, requires_grad=True))
        chosen.grad_fn.register_hook(lambda gi, go: (gi[0] * 5, gi[1]))
        chosen.sum().backward()
        grads.append((x.grad.numpy(), w.grad.numpy()))
    for ours, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_hook_tuple_of_our_length_is_refused() -> None:
    """The hook's tuple has PyTorch's count: 2 for ``x ** 2`` (x's and the exponent's, as ours had) is an error."""
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x ** 2
    y.grad_fn.register_hook(lambda gi, go: (gi[0], None))
    with pytest.raises(RuntimeError, match="tuple of 1"):
        y.sum().backward()
