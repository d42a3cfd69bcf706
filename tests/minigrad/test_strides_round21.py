"""Round 21: the layout of op results (``stride()``, ``is_contiguous()``, whether ``.view(-1)`` works) against PyTorch.

A differential fuzzer (random views: transpose, permute, slices with steps, expand, unsqueeze, narrow, unfold,
diagonal, as_strided; then one op) found results whose layout differed from PyTorch's so that ``y.view(-1)``
raised in minigrad where it works in PyTorch (or the reverse):

- PyTorch allocates some results C-contiguous whatever the input's layout: out-of-place ``masked_fill`` (a
  ``clone(contiguous_format)`` filled), ``pow(number, tensor)`` (``2 ** x``, ``float_power(2, x)``), ``topk``'s
  values and indices, ``layer_norm``, ``rrelu`` and ``logsigmoid``; minigrad kept NumPy's layout (transposed).
- ``nan_to_num`` of an expanded tensor: NumPy's copy put the expanded (0-stride) dim innermost.
- Unary special functions computed in several NumPy steps (``erfc``, ``erfinv``, so ``gelu``, ``bessel_j0``) came
  back C order for a transposed input, where PyTorch's keep the input's layout.
- ``batch_norm`` (BatchNorm1d after ``x.transpose(1, 2)``), ``instance_norm``, ``F.unfold`` and ``mvlgamma`` of
  non-contiguous inputs: PyTorch's kernels give C order (batch_norm: channels-last stays channels-last).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _layout(t: Any) -> tuple:
    """Strides, contiguity and whether ``view(-1)`` works: what user code observes."""
    try:
        t.view(-1)
        flat = True
    except RuntimeError:
        flat = False
    return tuple(t.shape), tuple(t.stride()), bool(t.is_contiguous()), flat


def _transposed(lib: Any) -> Any:
    return lib.tensor(np.arange(1.0, 7.0).reshape(2, 3) / 7).t()


def _expanded(lib: Any) -> Any:
    return lib.tensor(np.array([1.0, np.nan, np.inf])).expand(2, 3)


def _expanded_t(lib: Any) -> Any:
    return lib.tensor(np.array([[1.0], [-np.inf]])).expand(2, 3).t()


def _expanded_4d(lib: Any) -> Any:
    return lib.tensor(np.arange(16.0).reshape(1, 4, 4)).expand(1, 1, 4, 4)


def _expanded_batch(lib: Any) -> Any:
    return lib.tensor(np.random.RandomState(0).rand(1, 3, 4, 5)).expand(2, 3, 4, 5)


def _unsqueezed(lib: Any) -> Any:
    return _transposed(lib).unsqueeze(1)


def _permuted(lib: Any) -> Any:   # a channels-last-like 3-D layout
    return lib.tensor(np.arange(32.0).reshape(4, 2, 4) / 32).permute(0, 2, 1)


def _transposed_3d(lib: Any) -> Any:   # (N, L, C) transposed to (N, C, L), as before a BatchNorm1d
    return lib.tensor(np.random.RandomState(0).rand(2, 5, 3)).transpose(1, 2)


def _permuted_4d(lib: Any) -> Any:
    return lib.tensor(np.random.RandomState(0).rand(2, 5, 4, 3)).permute(0, 3, 2, 1)


def _channels_last(lib: Any) -> Any:
    return lib.tensor(np.random.RandomState(0).rand(2, 3, 4, 5)).contiguous(memory_format=lib.channels_last)


def _sliced_channels_last(lib: Any) -> Any:
    return _channels_last(lib)[..., ::2]


def _f(lib: Any) -> Any:
    return lib.nn.functional


CASES: dict[str, tuple[Callable, Callable]] = {
    # out-of-place masked_fill: PyTorch fills a C-contiguous clone
    "masked_fill_T": (_transposed, lambda lib, x: x.masked_fill(x > 0.3, 0.0)),
    "masked_fill_T_tensor_value": (_transposed, lambda lib, x: x.masked_fill(x > 0.3, lib.tensor(1.0))),
    "masked_fill_unsqueezed": (_unsqueezed, lambda lib, x: x.masked_fill(x > 0.3, 0.0)),
    "masked_fill_permuted": (_permuted, lambda lib, x: x.masked_fill(x > 0.3, 0.0)),
    "masked_fill_expanded": (_expanded_t, lambda lib, x: x.masked_fill(x > 0.3, 0.0)),
    "masked_fill_broadcast_mask": (_transposed, lambda lib, x: x.masked_fill(lib.ones(2, 3, 2, dtype=lib.bool), 0.0)),
    # pow(Scalar, Tensor) allocates a contiguous result
    "rpow_T": (_transposed, lambda lib, x: 2 ** x),
    "pow_number_T": (_transposed, lambda lib, x: lib.pow(2, x)),
    "float_power_number_T": (_transposed, lambda lib, x: lib.float_power(2, x)),
    "rpow_int_T": (_transposed, lambda lib, x: 2 ** (x * 7).long()),
    "rpow_permuted": (_permuted, lambda lib, x: 2.5 ** x),
    "rpow_unsqueezed": (_unsqueezed, lambda lib, x: 2 ** x),
    # nan_to_num of an expanded tensor: PyTorch's unary layout, not NumPy's copy
    "nan_to_num_expanded": (_expanded, lambda lib, x: x.nan_to_num()),
    "nan_to_num_expanded_T": (_expanded_t, lambda lib, x: x.nan_to_num()),
    "nan_to_num_expanded_new_dim": (_transposed, lambda lib, x: x.expand(2, 3, 2).nan_to_num()),
    # topk: both results C-contiguous
    "topk_values_expanded": (_expanded_4d, lambda lib, x: x.topk(1, -4)[0]),
    "topk_indices_expanded": (_expanded_4d, lambda lib, x: x.topk(1, -4)[1]),
    "topk_indices_expanded_T": (_expanded_t, lambda lib, x: x.topk(2, 0)[1]),
    "topk_values_ties": (_transposed, lambda lib, x: x.expand(2, 3, 2).topk(1, 0)[0]),
    # PyTorch's kernels that lay their result out C-contiguous
    "layer_norm_T": (_transposed, lambda lib, x: _f(lib).layer_norm(x, (2,))),
    "layer_norm_permuted_affine": (_permuted, lambda lib, x: _f(lib).layer_norm(
        x, (2,), lib.ones(2, dtype=x.dtype), lib.zeros(2, dtype=x.dtype))),
    "rrelu_eval_T": (_transposed, lambda lib, x: _f(lib).rrelu(x - 0.5)),
    "logsigmoid_T": (_transposed, lambda lib, x: _f(lib).logsigmoid(x)),
    # batch_norm lays its result out by suggest_memory_format (a transposed (N, C, L) input: C order; channels-last
    # stays), instance_norm and F.unfold (im2col) always C order
    "batch_norm_train_T3": (_transposed_3d, lambda lib, x: _f(lib).batch_norm(x, None, None, training=True)),
    "batch_norm_eval_T3": (_transposed_3d, lambda lib, x: _f(lib).batch_norm(
        x, lib.zeros(3, dtype=x.dtype), lib.ones(3, dtype=x.dtype))),
    "batch_norm_module_T3": (_transposed_3d, lambda lib, x: lib.nn.BatchNorm1d(3).double()(x)),
    "batch_norm_permuted_4d": (_permuted_4d, lambda lib, x: _f(lib).batch_norm(x, None, None, training=True)),
    "batch_norm_channels_last": (_channels_last, lambda lib, x: _f(lib).batch_norm(x, None, None, training=True)),
    "batch_norm_sliced_channels_last": (_sliced_channels_last, lambda lib, x: _f(lib).batch_norm(
        x, None, None, training=True)),
    "instance_norm_channels_last": (_channels_last, lambda lib, x: _f(lib).instance_norm(x)),
    "instance_norm_T3": (_transposed_3d, lambda lib, x: _f(lib).instance_norm(x)),
    "unfold_channels_last": (_channels_last, lambda lib, x: _f(lib).unfold(x, 2)),
    "mvlgamma_channels_last": (_channels_last, lambda lib, x: lib.mvlgamma(x + 2, 2)),
    "bessel_j0_expanded": (_expanded_batch, lambda lib, x: lib.special.bessel_j0(x)),
    "bessel_j0_T": (_transposed, lambda lib, x: lib.special.bessel_j0(x)),
    # unary special functions keep a transposed input's layout, as PyTorch's
    "erfinv_T": (_transposed, lambda lib, x: x.erfinv()),
    "erfc_T": (_transposed, lambda lib, x: lib.special.erfc(x)),
    "gelu_T": (_transposed, lambda lib, x: _f(lib).gelu(x)),
    "gelu_permuted": (_permuted, lambda lib, x: _f(lib).gelu(x)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_result_layout_as_torch(case: str) -> None:
    make, op = CASES[case]
    ours, theirs = op(mg, make(mg)), op(torch, make(torch))
    assert _layout(ours) == _layout(theirs)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-12)


def test_masked_fill_in_place_keeps_the_layout() -> None:
    """``masked_fill_`` writes into x: its strides stay x's (only the out-of-place op copies to C order)."""
    x = mg.tensor(np.arange(6.0).reshape(2, 3)).t()
    x.masked_fill_(x > 2, 0.0)
    assert x.stride() == (1, 3)
    assert x.tolist() == [[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]


def test_layouts_with_gradients() -> None:
    """The contiguous results still carry the gradients back to the transposed input."""
    grads = []
    for lib in (mg, torch):
        a = lib.tensor(np.arange(1.0, 7.0).reshape(2, 3) / 7, requires_grad=True)
        x = a.t()
        y = (x.masked_fill(x > 0.5, 0.0) * (2 ** x) + _f(lib).layer_norm(x, (2,)) + _f(lib).gelu(x))
        y.view(-1).sum().backward()
        grads.append(a.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


@pytest.mark.parametrize("reduce", ["mean_last", "mean_all", "mean_keepdim", "mean_transposed"])
def test_create_graph_mean_gradient_owns_its_memory(reduce: str) -> None:
    """A ``create_graph`` gradient of ``mean`` was a broadcast view (a 0 stride): ``view(n, -1)`` and in-place
    writes (``g.mul_(2)``) raised where PyTorch's gradient (``sum_backward(...) / numel``) has memory of its own."""
    fns = {"mean_last": lambda x: x.mean(-1).sum(), "mean_all": lambda x: x.mean(),
           "mean_keepdim": lambda x: x.mean(1, keepdim=True).pow(2).sum(),
           "mean_transposed": lambda x: x.transpose(1, 2).mean(-1).pow(2).sum()}
    results = []
    for lib in (mg, torch):
        x = lib.tensor(np.random.RandomState(0).rand(2, 4, 6), requires_grad=True)
        (g,) = lib.autograd.grad(fns[reduce](x), x, create_graph=True)
        results.append(_layout(g))
        g.detach().mul_(2)   # memory of its own: a write into a broadcast view raises
    assert results[0] == results[1]


@pytest.mark.parametrize("pad", [(1, 1), (1, 1, 2, 0)])
def test_create_graph_constant_pad_gradient_is_contiguous(pad: tuple) -> None:
    """The create_graph gradient of a constant ``F.pad`` was a strided slice of the padded gradient (``view(n, -1)``
    raised, as in a WGAN-GP penalty); PyTorch's backward (a pad by the negated widths) is C-contiguous."""
    results = []
    for lib in (mg, torch):
        x = lib.tensor(np.random.RandomState(0).rand(2, 3, 4, 5), requires_grad=True)
        y = _f(lib).pad(x, pad)
        (g,) = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.view(2, -1).sum(), x)
        results.append((_layout(g), gg.numpy().tolist()))
    assert results[0] == results[1]


UNFOLDED = {
    "conv2d_padded": lambda lib, x: _f(lib).conv2d(x, lib.ones(4, 3, 3, 3, dtype=x.dtype), padding=1),
    "conv2d_same": lambda lib, x: _f(lib).conv2d(x, lib.ones(4, 3, 3, 3, dtype=x.dtype), padding="same"),
    "conv2d_strided": lambda lib, x: _f(lib).conv2d(x, lib.ones(4, 3, 3, 3, dtype=x.dtype), padding=1, stride=2),
    "max_pool2d_padded": lambda lib, x: _f(lib).max_pool2d(x, 3, 1, 1),
    "avg_pool2d_padded": lambda lib, x: _f(lib).avg_pool2d(x, 3, 1, 1),
    "unfold_padded": lambda lib, x: _f(lib).unfold(x, 3, padding=1),
}


@pytest.mark.parametrize("case", list(UNFOLDED))
def test_create_graph_gradient_through_padded_windows_is_contiguous(case: str) -> None:
    """A WGAN-GP penalty (``grad.view(n, -1).norm(dim=1)``) through a padded Conv2d or pool: the create_graph
    gradient was the inner slice of the padded gradient (strides (300, 100, 10, 1)), so ``view`` raised."""
    results = []
    for lib in (mg, torch):
        x = lib.tensor(np.random.RandomState(0).rand(2, 3, 8, 8), requires_grad=True)
        y = UNFOLDED[case](lib, x)
        (g,) = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.view(2, -1).norm(dim=1).sum(), x)
        results.append((_layout(g), gg.numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("args", [(-3, 1, 2), (3, 0, 2), (-2, 0, 1)])
def test_empty_diagonal_starts_at_the_input(args: tuple) -> None:
    """An empty diagonal (an offset past the edge of a non-empty tensor) reports the input's storage_offset, as
    PyTorch's (which adds the offset only for a non-empty diagonal); it added the offset."""
    results = []
    for lib in (mg, torch):
        x = lib.tensor(np.arange(24.0).reshape(2, 3, 4))[1:]
        d = x.diagonal(*args)
        results.append((tuple(d.shape), d.stride(), d.storage_offset()))
    assert results[0] == results[1]


# --- on the GPU (a real one, or the strict CuPy stand-in of tests/conftest.py) -------------------------------------

# inputs whose layout ``.to("cuda")`` keeps (dense ones: transposed, permuted, channels-last)
GPU_CASES = ["masked_fill_T", "rpow_T", "rpow_int_T", "nan_to_num_expanded_new_dim", "topk_values_ties",
             "layer_norm_T", "batch_norm_train_T3", "instance_norm_channels_last", "erfinv_T", "gelu_T", "bessel_j0_T",
             "mvlgamma_channels_last"]


@pytest.mark.gpu
@pytest.mark.parametrize("case", GPU_CASES)
def test_result_layout_on_gpu_as_on_cpu(case: str) -> None:
    """The layout code runs on device arrays too (no host copies): the same values, and C order where PyTorch's
    result is C-contiguous."""
    make, op = CASES[case]
    results = []
    for device in ("cpu", "cuda"):
        y = op(mg, make(mg).to(device))
        results.append((y.is_contiguous(), y.detach().cpu().numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-12, atol=1e-12)
