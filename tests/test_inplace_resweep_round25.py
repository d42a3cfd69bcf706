"""Round 25, in-place resweep of this round's write-through rewrite, against PyTorch 2.13.

A differential fuzz (3,000 seeded cases: a base of 0-3 dims, a chain of 1-4 views among expand/expand_as/
broadcast_to, stepped slices, diagonal, narrow, select, unfold, as_strided, t/transpose/permute/movedim,
view/reshape, unsqueeze, real/imag, split/chunk/unbind parts; then one of 18 in-place ops; the base a leaf, a
non-leaf, without grad, or the op under no_grad; then a backward) found two buckets pinned here:

* a part of an expanded view whose elements do not share memory, reached through a further view NumPy made of
  the read-only broadcast (``b.expand(3, 2).diagonal(-2).view(-1).relu_()``, ``b.expand(2, -1).select(0, 0)``,
  an empty unfold of one): refused as read-only memory where PyTorch writes it (36 cases);
* a part of split/chunk/unbind of an expanded view, or a view of one (``b.expand(3).chunk(3)[2][...] = w``):
  written while recording where PyTorch refuses the write (15 cases), as the write skipped the part's refusal
  on its way up to the nearest base with a place per element.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _lib_tensor(lib: Any, values: Any, requires_grad: bool = False) -> Any:
    return lib.tensor(np.asarray(values, dtype=np.float64), dtype=lib.float64, requires_grad=requires_grad)


def _run(lib: Any, shape: tuple, chain: Callable[[Any], list], op: Callable[[Any, Any], Any], mode: str) -> dict:
    """Every tensor's values after the op on the chain's last view, version bumps, and the gradients of the leaf
    ``a`` (b = a * 1) and of the operand ``w`` after a backward of a weighted sum of all the tensors."""
    rng = np.random.default_rng(sum(shape) + 3)
    a = _lib_tensor(lib, rng.uniform(-1.5, 1.5, shape), requires_grad=mode != "nograd")
    b = a if mode == "nograd" else a * 1
    tensors = [b, *chain(b)]
    x = tensors[-1]
    w = _lib_tensor(lib, rng.uniform(0.5, 1.5, tuple(x.shape)), requires_grad=True)
    versions = [t._version for t in tensors]
    if mode == "no_grad":
        with lib.no_grad():
            op(x, w)
    else:
        op(x, w)
    out = {"values": [np.array(t.detach().numpy()) for t in tensors],
           "versions": [t._version - v for t, v in zip(tensors, versions)]}
    loss = sum((t * _lib_tensor(lib, rng.uniform(0.5, 1.5, tuple(t.shape)))).sum() for t in tensors
               if t.requires_grad)
    if isinstance(loss, (mg.Tensor, torch.Tensor)):
        loss.backward()
    out["grads"] = [None if not t.is_leaf or t.grad is None else np.array(t.grad.numpy()) for t in (a, w)]
    return out


# (name, base shape, chain: the views made from b, the written part last)
_APART: list[tuple[str, tuple, Callable[[Any], list]]] = [
    ("expand(2,-1).select", (1,), lambda b: (lambda e: [e, e.select(0, 0)])(b.expand(2, -1))),
    ("expand.movedim.diagonal.view", (1,), lambda b: (lambda e: (lambda d: [e, d, d.view(-1)])(
        e.movedim(1, 1).diagonal(-2, 0, 1)))(b.expand(3, 2))),
    ("broadcast.movedim.expand_as.diagonal", (1, 3, 4), lambda b: (lambda e: (lambda m: [e, m, m.diagonal(-1, 3, 2)])(
        e.movedim(2, 0).expand_as(torch.empty(1, 4, 2, 3) if isinstance(b, torch.Tensor) else mg.empty(1, 4, 2, 3))))(
        b.broadcast_to((2, 3, 4)))),
    ("expand.unfold", (), lambda b: (lambda e: [e, e.unfold(-1, 1, 4)])(b.reshape(1).t().expand(2))),
    ("broadcast.unfold empty", (3, 3), lambda b: (lambda e: [e, e.unfold(-1, 0, 1)])(b.broadcast_to((2, 3, 3)))),
    ("unfold.broadcast.unfold empty", (2, 2), lambda b: (lambda u: (lambda e: [u, e, e.unfold(0, 0, 2)])(
        u.broadcast_to((3, 1, 2, 2))))(b.unfold(0, 2, 1))),
    ("expand.permute.unfold empty", (4, 1), lambda b: (lambda e: [e, e.unfold(0, 0, 4)])(b.expand(4, 2))),
    ("expand(1,4).expand_as", (4,), lambda b: (lambda e: [e, e.expand(1, 1, 4)])(b.expand(1, 4))),
]

_OPS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("add_(w, alpha=2)", lambda x, w: x.add_(w, alpha=2)),
    ("relu_", lambda x, w: x.relu_()),
    ("x[...] = w", lambda x, w: x.__setitem__(Ellipsis, w)),
]


@pytest.mark.parametrize("mode", ["nonleaf", "no_grad"])
@pytest.mark.parametrize("op_name, op", _OPS, ids=[o[0] for o in _OPS])
@pytest.mark.parametrize("name, shape, chain", _APART, ids=[c[0] for c in _APART])
def test_part_of_an_expanded_view_is_written_as_torch(name: str, shape: tuple, chain: Callable, op_name: str,
                                                      op: Callable, mode: str) -> None:
    want = _run(torch, shape, chain, op, mode)
    got = _run(mg, shape, chain, op, mode)
    assert got["versions"] == want["versions"]
    for g, t in zip(got["values"] + got["grads"], want["values"] + want["grads"]):
        assert (g is None) == (t is None)
        if t is not None:
            np.testing.assert_allclose(g, t, rtol=1e-12, atol=1e-14)


_PARTS: list[tuple[str, tuple, Callable[[Any], Any]]] = [
    ("expand.chunk[2]", (), lambda b: b.expand(3).chunk(3)[2]),
    ("broadcast.chunk[0].unbind[1]", (), lambda b: b.view(-1).broadcast_to((2,)).chunk(1)[0].unbind(0)[1]),
    ("expand.unbind[0].unsqueeze.expand_as", (), lambda b: b.expand(2).unbind(0)[0].unsqueeze(0).expand(1)),
    ("expand.unbind[0].broadcast.as_strided", (), lambda b: b.expand(3).unbind(0)[0].broadcast_to((1,))
     .as_strided((1,), (1,))),
    ("expand.unbind[0].t", (), lambda b: b.expand(2).unbind(0)[0].t()),
    ("reshape.broadcast.split[0]", (), lambda b: b.reshape(-1).broadcast_to((1, 2)).split(1, 1)[0]),
]


@pytest.mark.parametrize("name, shape, part", _PARTS, ids=[p[0] for p in _PARTS])
def test_part_of_split_of_an_expanded_view_is_refused_while_recording(name: str, shape: tuple,
                                                                         part: Callable) -> None:
    for lib in (torch, mg):
        b = _lib_tensor(lib, np.full(shape, 0.5), requires_grad=True) * 1
        x = part(b)
        with pytest.raises(RuntimeError, match="modified inplace|split|chunk|unbind"):
            x.mul_(2.0)
    with mg.no_grad():   # without recording: written, as PyTorch's
        b = mg.tensor(0.5, dtype=mg.float64) * 1
        part(b).mul_(2.0)
        assert b.item() == 1.0


def _complex_run(lib: Any, chain: Callable[[Any], Any], fill: bool) -> tuple:
    values = np.array([0.5 - 1.0j, -1.5 + 0.25j, 2.0 + 1.0j, -0.75 - 0.5j])
    a = lib.tensor(values, dtype=lib.complex128, requires_grad=True)
    b = a * 1
    x = chain(b)
    w = lib.tensor(np.linspace(0.5, 1.5, x.numel()).reshape(tuple(x.shape)), dtype=lib.float64, requires_grad=True)
    x.fill_(3.0) if fill else x.mul_(w)
    ((b.real * 1.25).sum() + (b.imag * 0.5).sum() + (x * 2.0).sum()).backward()
    return [np.array(t.numpy()) for t in (b.detach(), a.grad) + (() if fill else (w.grad,))]


_COMPLEX: list[tuple[str, Callable[[Any], Any]]] = [
    ("expand.real.diagonal", lambda b: b.expand(2, 4).real.diagonal(1)),
    ("expand.imag.diagonal", lambda b: b.expand(3, 4).imag.diagonal(-1)),
    ("expand.imag[:, 1:3][0]", lambda b: b.expand(2, 4).imag[:, 1:3][0]),
    ("expand.real.as_strided", lambda b: b.expand(2, 4).real.as_strided((3,), (2,))),   # real parts of 3
]


@pytest.mark.parametrize("fill", [True, False], ids=["fill_", "mul_(w)"])
@pytest.mark.parametrize("name, chain", _COMPLEX, ids=[c[0] for c in _COMPLEX])
def test_real_or_imag_part_of_an_expanded_complex_view_writes_only_that_part(name: str, chain: Callable,
                                                                             fill: bool) -> None:
    for got, want in zip(_complex_run(mg, chain, fill), _complex_run(torch, chain, fill), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def _nested_as_strided_run(lib: Any, write: Callable[[Any, Any], Any]) -> list:
    a = lib.tensor(np.linspace(-1.0, 1.0, 16).reshape(4, 4), dtype=lib.float64, requires_grad=True)
    b = a * 1
    v1 = b.as_strided((5, 2), (1, 1))   # overlapping windows of b's first 6 places
    v2 = v1.as_strided((8, 1), (1, 1))   # b's first 8 places: 2 of them outside v1's elements
    w = lib.tensor(np.linspace(0.5, 1.5, 8).reshape(8, 1), dtype=lib.float64, requires_grad=True)
    write(v2, w)
    loss = (b * 1.5).sum() + (v1 * 0.75).sum() + (v2 * lib.arange(1.0, 9.0, dtype=lib.float64).reshape(8, 1)).sum()
    loss.backward()
    return [np.array(t.numpy()) for t in (b.detach(), v1.detach(), v2.detach(), a.grad, w.grad)]


@pytest.mark.parametrize("write", [lambda x, w: x.copy_(w), lambda x, w: x.scatter_(0, mg.arange(8).reshape(8, 1)
                                   if isinstance(x, mg.Tensor) else torch.arange(8).reshape(8, 1), w)],
                         ids=["copy_", "scatter_"])
def test_as_strided_view_of_a_view_reads_the_written_base_again(write: Callable) -> None:
    """After the write, an as_strided view of a view is read again from the written base's memory, as PyTorch
    reads every view through its base's as_strided: read from the view between, the gradient of the places
    outside that view's elements was lost (w's and the views' gradients differed there)."""
    for got, want in zip(_nested_as_strided_run(mg, write), _nested_as_strided_run(torch, write), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
