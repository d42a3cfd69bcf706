"""In-place ops while recording on views made by ``diagonal``, ``unfold``, ``as_strided`` and the parts of
``tensor_split`` (``hsplit``, ``vsplit``, ``dsplit``), as PyTorch's: the write reaches the base and the base's graph
(PyTorch's CopySlices), a view made before an in-place op on its base follows the base's new graph, and the
version counters of both move. Parts of ``split``, ``chunk`` and ``unbind`` stay refused, as PyTorch refuses
them (outputs of a function that returns several views).

Each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with ``lib = minigrad`` and ``lib = torch`` on the
same float64 values (leaves that require grad); the base, the views and every leaf's gradient must agree, and
every case passes ``mg.gradcheck``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, gpu_case_tests

import minigrad as mg
import nn.functional as F

RNG = np.random.default_rng(11)
X46 = RNG.standard_normal((4, 6))
W46 = RNG.standard_normal((4, 6))
X234 = RNG.standard_normal((2, 3, 4))
V4 = RNG.standard_normal(4)


def _diagonal_mul(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    v = x.diagonal()
    v.mul_(2)
    return x * x, v * 3


def _diagonal_offset_dims_operand(t: Any, leaf: Any, w: Any) -> Any:
    x = leaf * 1
    v = x.diagonal(1, 2, 0)   # (3, 1): diagonal of dims 2 and 0, offset 1
    v.add_(w[:3, :1] * 2)
    return x.sin(), v


def _diagonal_of_a_transpose(t: Any, leaf: Any, w: Any) -> Any:
    x = leaf * 1
    x.t().diagonal(-1).copy_(w[0, :4])
    return x * w


def _index_of_a_diagonal(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    d = x.diagonal()
    d[1:3].zero_()
    return x * x, d


def _base_written_after_the_view(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    d, u, s = x.diagonal(), x.unfold(1, 2, 3), x.as_strided((2, 2), (1, 6), 1)
    x.mul_(3)
    return d * 2, u.exp(), s * s


def _unfold_windows_apart(t: Any, leaf: Any, w: Any) -> Any:
    x = leaf * 1
    u = x.unfold(1, 2, 3)   # (4, 2, 2): windows 3 apart, no overlap
    u.mul_(w[:, :4].reshape(4, 2, 2))
    return x * x, u


def _unfold_relu_(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    x.unfold(0, 2, 2).relu_()
    return x * 3


def _as_strided_mul(t: Any, leaf: Any, w: Any) -> Any:
    x = leaf * 1
    s = x.as_strided((2, 2), (1, 6), 1)
    s.mul_(w[:2, :2])
    return x * x, s


def _as_strided_of_a_transpose(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    y = x.t()   # strides (1, 6): as_strided reads the storage, whatever y's layout
    y.as_strided((3,), (7,)).sub_(1)
    return x * x, y


def _tensor_split_parts(t: Any, leaf: Any, w: Any) -> Any:
    x = leaf * 1
    a, b, c = t.tensor_split(x, [1, 4], dim=1)
    b.mul_(w[:, :3])
    c.zero_()
    return x * x, a * 2, b


def _hsplit_vsplit(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    t.hsplit(x, 2)[1].add_(1)
    t.vsplit(x, [3])[0].exp_()
    return x * x


def _dsplit(t: Any, leaf: Any) -> Any:
    x = leaf * 1
    t.dsplit(x, [1])[1].mul_(2)
    return x.cos()


def _view_used_after_its_write(t: Any, leaf: Any, w: Any) -> Any:
    x = leaf * 1
    d = x.diagonal()
    d.mul_(w[0, :4])
    y = d.exp()   # reads the written values
    x.add_(1)   # and the view follows the base's new graph
    return y, d * w[1, :4], x


def _relu_inplace_on_views(t: Any, leaf: Any) -> Any:
    # one write per base: PyTorch's version counter is per storage, so a later write into another view of the
    # base would make backward refuse what an earlier activation saved
    F_ = t.nn.functional
    x, y, z, u = leaf * 1, leaf * 2, leaf * 3, leaf * 4
    F_.relu(x.diagonal(), inplace=True)
    F_.leaky_relu(y.as_strided((2,), (6,), 5), 0.25, inplace=True)
    F_.hardtanh(z.unfold(1, 1, 2), inplace=True)
    F_.elu(t.tensor_split(u, 3, 0)[1], inplace=True)
    return x * x, y * y, z * z, u * u


CASES: dict[str, tuple[Callable, tuple]] = {
    "diagonal_mul_": (_diagonal_mul, (X46,)),
    "diagonal_offset_dims_operand": (_diagonal_offset_dims_operand, (X234, W46)),
    "diagonal_of_a_transpose": (_diagonal_of_a_transpose, (X46, W46)),
    "index_of_a_diagonal": (_index_of_a_diagonal, (X46,)),
    "base_written_after_the_views": (_base_written_after_the_view, (X46,)),
    "unfold_windows_apart": (_unfold_windows_apart, (X46, W46)),
    "unfold_relu_": (_unfold_relu_, (X46,)),
    "as_strided_mul_": (_as_strided_mul, (X46, W46)),
    "as_strided_of_a_transpose": (_as_strided_of_a_transpose, (X46,)),
    "tensor_split_parts": (_tensor_split_parts, (X46, W46)),
    "hsplit_vsplit": (_hsplit_vsplit, (X46,)),
    "dsplit": (_dsplit, (X234,)),
    "view_used_after_its_write": (_view_used_after_its_write, (X46, W46)),
    "inplace_activations_on_views": (_relu_inplace_on_views, (X46,)),
}

# relu/leaky_relu/hardtanh have kinks: finite differences are fine away from them (these values are)
test_same_as_torch, test_gradcheck = case_tests(CASES)
test_on_gpu_same_as_on_cpu = gpu_case_tests(CASES, leave_out=(
    # on a GPU unfold and as_strided give copies (ops/strided.py): their writes do not reach the base
    "base_written_after_the_views", "unfold_windows_apart", "unfold_relu_", "as_strided_mul_",
    "as_strided_of_a_transpose", "inplace_activations_on_views"))


def test_values_versions_and_grad_fn_as_torch(torch: Any) -> None:
    """The base and the view after the write, both version counters, and the base's new graph."""
    seen = []
    for lib in (mg, torch):
        leaf = lib.tensor(X46, requires_grad=True)
        x = leaf * 1
        views = [x.diagonal(), x.unfold(1, 2, 2), x.as_strided((3,), (5,), 2), lib.tensor_split(x, 3, 1)[2]]
        for v in views:
            before = (x._version, v._version)
            v.mul_(2)
            assert (x._version, v._version) == (before[0] + 1, before[1] + 1)
            assert x.grad_fn is not None and v.grad_fn is not None
        (x * lib.tensor(W46)).sum().backward()
        seen.append([x.detach().numpy(), leaf.grad.numpy(), *(v.detach().numpy() for v in views)])
    for ours, theirs in zip(*seen):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("write", [
    lambda t, x: t.split(x, 2, dim=1)[0].mul_(2),
    lambda t, x: x.chunk(3)[1].add_(1),
    lambda t, x: x.unbind(0)[0].zero_(),
    lambda t, x: t.split_with_sizes(x, [2, 4], 1)[0].mul_(2),
], ids=["split", "chunk", "unbind", "split_with_sizes"])
def test_parts_of_split_chunk_unbind_refuse_as_torch(write: Callable, torch: Any) -> None:
    for lib in (mg, torch):
        x = lib.tensor(X46, requires_grad=True) * 1
        with pytest.raises(RuntimeError):
            write(lib, x)
        np.testing.assert_array_equal(x.detach().numpy(), X46)


@pytest.mark.parametrize("write", [
    lambda t, p: p.diagonal().add_(1),
    lambda t, p: p.unfold(1, 2, 2).mul_(2),
    lambda t, p: p.as_strided((2,), (3,)).zero_(),
    lambda t, p: t.tensor_split(p, 2)[0].add_(1),
], ids=["diagonal", "unfold", "as_strided", "tensor_split"])
def test_view_of_a_leaf_that_requires_grad_raises_as_torch(write: Callable, torch: Any) -> None:
    for lib in (mg, torch):
        p = lib.tensor(X46, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            write(lib, p)
        np.testing.assert_array_equal(p.detach().numpy(), X46)


def test_view_made_under_no_grad_refused_with_grad_on_and_no_grad_writes_through(torch: Any) -> None:
    for lib in (mg, torch):
        x = lib.tensor(X46, requires_grad=True) * 1
        with lib.no_grad():
            d = x.diagonal()
            parts = lib.tensor_split(x, 2)
            d.mul_(2)   # under no_grad: writes through
            parts[1].zero_()
        with pytest.raises(RuntimeError):
            d.add_(1)
        expected = X46.copy()
        np.fill_diagonal(expected, 2 * np.diagonal(X46))
        expected[2:] = 0
        np.testing.assert_array_equal(x.detach().numpy(), expected)


def test_overlapping_windows_still_raise() -> None:
    """Where minigrad cannot follow PyTorch: overlapping unfold/as_strided windows (read-only here, at any grad
    mode; PyTorch writes each place once per window). (An as_strided view reading outside the view it was made
    from is written through the root as PyTorch's since round 25: tests/test_inplace_asstrided_round25.py.)"""
    x = mg.tensor(X46, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="overlap"):
        x.unfold(1, 3, 1).mul_(2)
    np.testing.assert_array_equal(x.numpy(), X46)


def test_inplace_activation_on_a_diagonal_writes_through_without_a_warning(torch: Any) -> None:
    results = []
    for lib, functional in ((mg, F), (torch, torch.nn.functional)):
        leaf = lib.tensor(X46, requires_grad=True)
        base = leaf * 1
        view = base.diagonal()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert functional.relu(view, inplace=True) is view
        (base * lib.tensor(W46)).sum().backward()
        results.append((base.detach().numpy(), leaf.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_complex_diagonal_write_as_torch(torch: Any) -> None:
    z = X46 + 1j * W46
    results = []
    for lib in (mg, torch):
        leaf = lib.tensor(z, requires_grad=True)
        x = leaf * 1
        x.diagonal().mul_(2j)
        (x * x).abs().sum().backward()
        results.append((x.detach().numpy(), leaf.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
