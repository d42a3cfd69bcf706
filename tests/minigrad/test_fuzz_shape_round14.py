"""Shape and view ops against PyTorch (round 14 differential fuzzing): values, dtypes, shapes, error
classes, gradients, and view semantics (writes through a view reach its base and back, one version
counter, a saved view's base changed in place is refused at backward)."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _lib(t: Any) -> Any:
    return torch if isinstance(t, torch.Tensor) else mg


def _np(t: Any) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach().numpy())


def _compare(f: Callable, *arrays: np.ndarray) -> None:
    """``f`` on torch and on minigrad leaves made from ``arrays``: same outputs, and the same gradients of a
    weighted sum of the float outputs."""
    ins = {L: [L.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays] for L in (torch, mg)}
    outs = {}
    for L in (torch, mg):
        out = f(*ins[L])
        outs[L] = list(out) if isinstance(out, (list, tuple)) else [out]
    assert len(outs[torch]) == len(outs[mg])
    rng = np.random.default_rng(0)
    losses = {torch: 0, mg: 0}
    for t, m in zip(outs[torch], outs[mg]):
        assert tuple(t.shape) == m.shape
        assert _np(t).dtype == m.dtype
        np.testing.assert_array_equal(_np(t), _np(m))
        if t.requires_grad:
            w = rng.standard_normal(m.shape).astype(m.dtype)
            losses[torch] = losses[torch] + (t * torch.tensor(w)).sum()
            losses[mg] = losses[mg] + (m * mg.tensor(w)).sum()
    if isinstance(losses[torch], int):
        return
    for L in (torch, mg):
        losses[L].backward()
    for t, m in zip(ins[torch], ins[mg]):
        if t.requires_grad:
            np.testing.assert_allclose(_np(m.grad), _np(t.grad), rtol=1e-6, atol=1e-6)


def _x(*shape: int) -> np.ndarray:
    return np.random.default_rng(sum(shape) + len(shape)).standard_normal(shape)


# --- fixes -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [(3, -1), (2, -1, 4), (-1, 5)])
def test_broadcast_to_keeps_a_dim_for_minus_one(size: tuple) -> None:
    """torch.broadcast_to is expand: -1 keeps the dim (it raised here)."""
    _compare(lambda t: _lib(t).broadcast_to(t, size), _x(3, 1))
    _compare(lambda t: t.broadcast_to(size), _x(3, 1))


def test_broadcast_to_refuses_minus_one_for_a_new_dim() -> None:
    with pytest.raises(RuntimeError):
        torch.broadcast_to(torch.ones(3, 1), (-1, 3, 1))
    with pytest.raises(RuntimeError, match="-1"):
        mg.broadcast_to(mg.ones(3, 1), (-1, 3, 1))


@pytest.mark.parametrize("shape, args", [((4,), (0, 4, 1)), ((3, 1), (0, 3, 2)), ((2, 8), (1, 8, 3)),
                                         ((5,), (0, 2, 1))])
def test_unfold_with_one_window_is_writable(shape: tuple, args: tuple) -> None:
    """One window of size > step has no overlap: PyTorch writes through it (it was read-only here);
    the write reaches the base and the gradients match. Several overlapping windows still refuse (README)."""
    overlapping = (shape[args[0]] - args[1]) // args[2] + 1 > 1 and args[2] < args[1]
    results = {}
    for L in (torch, mg):
        a = L.tensor(_x(*shape), requires_grad=True)
        b = a * 2
        v = b.unfold(*args)
        w = v * 3
        if overlapping and L is mg:
            with pytest.raises(RuntimeError):
                v.mul_(1.5)
            return
        v.mul_(1.5)
        ((b * b).sum() + (w * w).sum()).backward()
        results[L] = (_np(b), _np(a.grad))
    for t, m in zip(results[torch], results[mg]):
        np.testing.assert_allclose(m, t, rtol=1e-12)


def test_mt_of_0d_is_the_identity_as_torch() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert float(torch.tensor(2.0).mT) == 2.0
    with pytest.warns(UserWarning, match="deprecated"):
        assert float(mg.tensor(2.0).mT) == 2.0
    with pytest.warns(UserWarning, match="deprecated"):
        assert complex(mg.tensor(1 + 2j).mH) == 1 - 2j


@pytest.mark.parametrize("call", [
    lambda L: L.ones(3).mT,
    lambda L: L.ones(3).mH,
    lambda L: L.ones(3).H,
    lambda L: L.ones(2, 3, 4).H,
    lambda L: L.ones(3).adjoint(),
    lambda L: L.ones(6).as_strided((2,), (-1,), 0),
    lambda L: L.ones(6).as_strided((2,), (1,), -1),
    lambda L: L.ones(6).as_strided((-2,), (1,), 0),
    lambda L: L.ones(6).as_strided((2, 2), (1,), 0),
    lambda L: L.ones(6).tensor_split(L.tensor([1.0, 4.0])),
    lambda L: L.ones(6).tensor_split(L.tensor([[1, 4]])),
])
def test_errors_are_runtime_errors_as_torch(call: Callable) -> None:
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError):
        call(mg)


def test_error_classes_trace_of_bool_and_repeat_without_counts() -> None:
    for L in (torch, mg):
        with pytest.raises(NotImplementedError):
            L.ones(2, 2, dtype=L.bool).trace()
        with pytest.raises(TypeError):
            L.ones(2, 3).repeat()


# --- differential sweep (regression guard) ---------------------------------------------------------------

SHAPE_CALLS: list = [
    ("view -1", lambda t: t.view(4, -1, 3), [_x(2, 3, 4)]),
    ("reshape T", lambda t: t.mT.reshape(-1), [_x(2, 3, 4)]),
    ("expand -1", lambda t: t.expand(2, -1, 5), [_x(3, 1)]),
    ("broadcast_tensors", lambda a, b: _lib(a).broadcast_tensors(a, b), [_x(3, 1), _x(1, 4)]),
    ("movedim tuples", lambda t: _lib(t).movedim(t, (0, 1), (2, 0)), [_x(2, 3, 4)]),
    ("squeeze tuple", lambda t: t.squeeze((0, 1, 2)), [_x(1, 3, 1, 2)]),
    ("unflatten -1", lambda t: t.unflatten(-1, (2, -1)), [_x(2, 3, 4)]),
    ("narrow neg", lambda t: t.narrow(-1, -2, 2), [_x(2, 3, 4)]),
    ("unfold", lambda t: t.unfold(2, 2, 1), [_x(2, 3, 4)]),
    ("split list", lambda t: t.split([1, 3, 2]), [_x(6, 2)]),
    ("chunk uneven", lambda t: t.chunk(4), [_x(6, 2)]),
    ("tensor_split", lambda t: t.tensor_split([1, 3], 1), [_x(2, 5)]),
    ("dsplit", lambda t: _lib(t).dsplit(t, [1, 3]), [_x(2, 2, 4)]),
    ("unbind", lambda t: t.unbind(1), [_x(2, 3)]),
    ("cat empty", lambda a, b: _lib(a).cat([a, b]), [_x(2, 3), _x(0)]),
    ("column_stack", lambda a, b: _lib(a).column_stack([a, b]), [_x(3), _x(3, 2)]),
    ("dstack", lambda a, b: _lib(a).dstack([a, b]), [_x(3), _x(3)]),
    ("roll dims", lambda t: t.roll((1, -1), (0, 2)), [_x(2, 3, 4)]),
    ("rot90 -3", lambda t: t.rot90(-3, [2, 0]), [_x(2, 3, 4)]),
    ("tile", lambda t: t.tile((2, 1, 1, 2)), [_x(2, 3, 4)]),
    ("repeat_interleave", lambda t: t.repeat_interleave(_lib(t).tensor([1, 0, 2]), dim=0, output_size=3),
     [_x(3, 2)]),
    ("triu -1", lambda t: t.triu(-1), [_x(2, 3, 4)]),
    ("diagonal dims", lambda t: t.diagonal(1, 2, 0), [_x(3, 2, 4)]),
    ("diag_embed", lambda t: _lib(t).diag_embed(t, -1, 2, 0), [_x(2, 3)]),
    ("diagflat", lambda t: _lib(t).diagflat(t, 1), [_x(2, 2)]),
    ("as_strided", lambda t: t.as_strided((3, 2), (1, 2), 1), [_x(3, 4)]),
    ("atleast_3d", lambda t: _lib(t).atleast_3d(t), [_x(2, 3)]),
    ("meshgrid xy", lambda a, b: _lib(a).meshgrid(a, b, indexing="xy"), [_x(3), _x(4)]),
    ("block_diag", lambda a, b: _lib(a).block_diag(a, b), [_x(2, 3), _x(3)]),
    ("cartesian_prod", lambda a, b: _lib(a).cartesian_prod(a, b), [_x(3), _x(2)]),
    ("combinations", lambda t: _lib(t).combinations(t, 2, with_replacement=True), [_x(4)]),
    ("kron", lambda a, b: _lib(a).kron(a, b), [_x(2, 1, 2), _x(3)]),
    ("trace", lambda t: t.trace(), [_x(3, 4)]),
]


@pytest.mark.parametrize("name, f, arrays", SHAPE_CALLS, ids=[c[0] for c in SHAPE_CALLS])
def test_shape_ops_match_torch(name: str, f: Callable, arrays: list) -> None:
    _compare(f, *arrays)


VIEWS: dict = {
    "view": lambda t: t.view(4, 6), "reshape": lambda t: t.reshape(6, 4), "permute": lambda t: t.permute(2, 0, 1),
    "transpose": lambda t: t.transpose(0, 2), "squeeze": lambda t: t[:1].squeeze(),
    "unsqueeze": lambda t: t.unsqueeze(1),
    "narrow": lambda t: t.narrow(1, 1, 2), "select": lambda t: t.select(1, 2), "unfold": lambda t: t.unfold(2, 2, 2),
    "split": lambda t: t.split(2, 2)[1], "chunk": lambda t: t.chunk(3, 1)[2], "unbind": lambda t: t.unbind(1)[1],
    "diagonal": lambda t: t.diagonal(1, 1, 2), "t": lambda t: t[0].t(), "mT": lambda t: t.mT,
    "as_strided": lambda t: t.as_strided((3, 2), (4, 1), 1), "flatten": lambda t: t.flatten(1),
    "movedim": lambda t: t.movedim(0, 2), "tensor_split": lambda t: t.tensor_split([1], 2)[1],
    "unflatten": lambda t: t.unflatten(2, (2, 2)), "expand_read": lambda t: t[:, :1].expand(2, 5, 4),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_share_memory_and_version_as_torch(name: str) -> None:
    base = np.arange(24.0).reshape(2, 3, 4)
    seen = {}
    for L in (torch, mg):
        b = L.tensor(base.copy())
        v = VIEWS[name](b)
        before = _np(v).copy()
        b.add_(100)
        r = [not np.array_equal(_np(v), before)]     # base → view
        b = L.tensor(base.copy())
        v = VIEWS[name](b)
        try:
            v.mul_(2)
            r += [not np.array_equal(_np(b), base), b._version, v._version]   # view → base, shared counter
        except RuntimeError:
            r += ["refused"]
        a = L.tensor(base.copy(), requires_grad=True)
        c = a * 1
        y = (VIEWS[name](c) ** 2).sum()
        with L.no_grad():
            c.add_(1)
        try:
            y.backward()
            r += ["backward ran"]
        except RuntimeError:
            r += ["saved view's base changed: refused"]
        seen[L] = r
    assert seen[mg] == seen[torch]


@pytest.mark.parametrize("make", [
    lambda L: L.arange(6, dtype=L.float32).reshape(2, 3)[:, 1:],     # storage offset 1: not whole float64s
    lambda L: L.arange(10, dtype=L.float32).reshape(2, 5)[:, :2],    # row stride 5: not whole float64s
    lambda L: L.arange(6, dtype=L.int16).reshape(2, 3)[:, 1:],
])
def test_view_as_a_larger_dtype_needs_whole_strides_and_offset(make: Callable) -> None:
    """PyTorch refuses these bit reinterpretations; NumPy allows them, and they were allowed here."""
    for L in (torch, mg):
        big = L.float64 if make(L).dtype == L.float32 else L.int32
        with pytest.raises(RuntimeError):
            make(L).view(big)


def test_view_as_a_larger_dtype_from_an_aligned_slice_matches_torch() -> None:
    t = torch.arange(8, dtype=torch.float32).reshape(2, 4)[:, 2:].view(torch.float64)
    m = mg.arange(8, dtype=mg.float32).reshape(2, 4)[:, 2:].view(mg.float64)
    np.testing.assert_array_equal(m.numpy(), t.numpy())


def test_squeeze_refuses_a_repeated_dim() -> None:
    for L in (torch, mg):
        with pytest.raises(RuntimeError):
            L.ones(1, 2, 1).squeeze((-3, 0))


def test_t_in_place_of_3d_is_a_runtime_error() -> None:
    for L in (torch, mg):
        with pytest.raises(RuntimeError, match="t_"):
            L.ones(2, 3, 4).t_()


@pytest.mark.parametrize("call", [
    lambda L, s: s.split(1),
    lambda L, s: s.chunk(2),
    lambda L, s: s.tensor_split(2),
    lambda L, s: s.split_with_sizes([1]),
    lambda L, s: s.unflatten(0, (1,)),
    lambda L, s: L.cat([s, s], 1),
    lambda L, s: L.cat([s, s]),
])
def test_cutting_or_joining_0d_tensors_is_a_runtime_error(call: Callable) -> None:
    """PyTorch raises RuntimeError; these raised AxisError (ValueError, IndexError), which is kept too."""
    for L in (torch, mg):
        with pytest.raises(RuntimeError):
            call(L, L.tensor(1.0))
    with pytest.raises((ValueError, IndexError)):
        call(mg, mg.tensor(1.0))


@pytest.mark.parametrize("call", [
    lambda t: t.view(-2, 12),
    lambda t: t.reshape(2, -3, 4),
    lambda t: t.view((-5, 4)),
])
def test_a_negative_size_other_than_minus_one_is_refused(call: Callable) -> None:
    """NumPy reads any negative size as "infer"; PyTorch refuses it (this returned a (2, 12) tensor)."""
    for L in (torch, mg):
        with pytest.raises(RuntimeError, match="invalid shape dimension"):
            call(L.ones(2, 3, 4))


def test_split_and_chunk_take_a_0d_tensor_or_numpy_int_as_torch() -> None:
    _compare(lambda t: t.split(_lib(t).tensor(2), 2), _x(2, 3, 4))
    _compare(lambda t: t.chunk(_lib(t).tensor(2), 2), _x(2, 3, 4))
    _compare(lambda t: t.chunk(np.int64(3), 1), _x(2, 3, 4))


# --- views read again after their base changes in place --------------------------------------------------

_BASE = np.arange(24.0).reshape(2, 3, 4)


@pytest.mark.parametrize("make", [
    lambda b: b[:, :1].expand(2, 5, 4),
    lambda b: b[:, :1].expand_as(b),
    lambda b: _lib(b).broadcast_to(b[:, :1], (2, 3, 4)),
    lambda b: b[:, :1].expand(2, -1, 4),
])
def test_expanded_view_read_after_its_base_changed_gets_the_new_graph(make: Callable) -> None:
    """An expanded view used after its base was changed in place: its values are the new ones, and so
    must be its gradient (it kept the old graph: 10 instead of torch's 30, silently)."""
    grads = {}
    for L in (torch, mg):
        a = L.tensor(_BASE.copy(), requires_grad=True)
        b = a * 1
        v = make(b)
        b.mul_(3)
        (v * v).sum().backward()
        grads[L] = _np(a.grad)
    np.testing.assert_allclose(grads[mg], grads[torch])


@pytest.mark.parametrize("make", [
    lambda b: b.split(2, 2)[1],
    lambda b: b.split([1, 3], 2)[1],
    lambda b: b.chunk(3, 1)[2],
    lambda b: b.unbind(1)[1],
])
def test_split_part_read_after_its_base_changed_is_not_silently_wrong(make: Callable) -> None:
    """PyTorch refuses a part of split/chunk/unbind used after its base changed in place; minigrad now
    re-reads it from the changed base (the gradient of what it computes), where it kept the old graph
    (a gradient 3 times too small here, silently)."""
    with pytest.raises(RuntimeError):
        a = torch.tensor(_BASE.copy(), requires_grad=True)
        b = a * 1
        v = make(b)
        b.mul_(3)
        (v * v).sum().backward()
    a = mg.tensor(_BASE.copy(), requires_grad=True)
    b = a * 1
    v = make(b)
    b.mul_(3)
    (v * v).sum().backward()
    # the same computation with the change made first: v is then 3 a[part]
    a2 = torch.tensor(_BASE.copy(), requires_grad=True)
    b2 = a2 * 3
    v2 = make(b2)
    (v2 * v2).sum().backward()
    np.testing.assert_allclose(_np(a.grad), _np(a2.grad))
    assert np.array_equal(_np(v), _np(v2))


@pytest.mark.parametrize("write", [
    lambda x: x.split(2, dim=1)[0].view(-1, 1).mul_(2),
    lambda x: x.chunk(2)[1][0].add_(1),
    lambda x: x.unbind(0)[0].t().zero_(),
])
def test_inplace_on_a_view_of_a_split_part_is_refused_as_torch(write: Callable) -> None:
    for L in (torch, mg):
        x = L.tensor(np.arange(12.0).reshape(2, 6), requires_grad=True) * 1
        with pytest.raises(RuntimeError):
            write(x)
    np.testing.assert_array_equal(_np(x), np.arange(12.0).reshape(2, 6))


@pytest.mark.parametrize("make", [
    lambda b: b[:1].squeeze(),
    lambda b: b[0].t(),
    lambda b: b[0].T,
    lambda b: _lib(b).diagonal(b[0]),
    lambda b: b.split(2, 2)[1],
    lambda b: b.chunk(3, 1)[2],
    lambda b: b.unbind(1)[1],
    lambda b: b[:, :1].squeeze((1,)),
])
def test_a_view_made_under_no_grad_refuses_inplace_with_grad_on(make: Callable) -> None:
    """A view of a view (or a split part) made under no_grad from a tensor that requires grad: an in-place op
    on it with grad mode on is refused, as PyTorch's (only one level of view was refused; the write went
    into the base's memory behind its graph)."""
    for L in (torch, mg):
        b = L.tensor(_BASE.copy(), requires_grad=True) * 1
        with L.no_grad():
            v = make(b)
        with pytest.raises(RuntimeError):
            v.mul_(2)
        with L.no_grad():   # inside no_grad the write is fine
            make(b).mul_(1)
