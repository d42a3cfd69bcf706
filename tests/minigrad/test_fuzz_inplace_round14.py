"""Round 14 differential fuzzing of in-place ops and views against PyTorch: one test per root cause found."""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _both(call):
    """call(lib, x) on torch and minigrad with x = arange(6.0): (torch's x or exception, ours)."""
    results = []
    for lib in (torch, mg):
        x = lib.arange(6.0)
        try:
            call(lib, x)
            results.append(x.numpy().tolist())
        except Exception as error:  # noqa: BLE001 - compared below
            results.append(error)
    return results


# an operand that shares some, not all, of the memory written: PyTorch refuses it ("some elements of the input
# tensor and the written-to tensor refer to a single memory location"); ours returned a result
PARTIAL_OVERLAP = {
    "copy_shift": lambda lib, x: x[1:].copy_(x[:-1]),
    "copy_transpose": lambda lib, x: x.view(2, 3).copy_(x.view(3, 2).t()),
    "copy_same_dtype_cast": lambda lib, x: x[1:].copy_(x[:-1].float()),
    "add_shift": lambda lib, x: x[1:].add_(x[:-1]),
    "sub_alpha": lambda lib, x: x[1:].sub_(x[:-1], alpha=2),
    "iadd": lambda lib, x: x[1:].__iadd__(x[:-1]),
    "mul_0d_element": lambda lib, x: x.mul_(x[1]),
    "div_rounding": lambda lib, x: x[1:].div_(x[:-1] if lib is torch else x[:-1], rounding_mode="floor"),
    "pow_": lambda lib, x: x[1:].pow_(x[:-1]),
    "clamp_": lambda lib, x: x[1:].clamp_(min=x[:-1]),
    "lerp_": lambda lib, x: x[1:].lerp_(x[:-1], 0.5),
    "addcmul_": lambda lib, x: x[1:].addcmul_(x[:-1], x[1:]),
    "atan2_": lambda lib, x: x[1:].atan2_(x[:-1]),
    "logical_and_": lambda lib, x: x[1:].logical_and_(x[:-1]),
    "setitem_slice": lambda lib, x: x.__setitem__(slice(1, None), x[:-1]),
    "setitem_index": lambda lib, x: x.__setitem__(lib.tensor([1, 2]), x[:2]),
    "index_copy_": lambda lib, x: x.index_copy_(0, lib.tensor([1, 2]), x[:2]),
    "index_add_": lambda lib, x: x.index_add_(0, lib.tensor([1, 2]), x[:2]),
    "index_put_": lambda lib, x: x.index_put_((lib.tensor([1, 2]),), x[:2]),
    "scatter_add_": lambda lib, x: x.scatter_add_(0, lib.tensor([1, 2]), x[:2]),
    "put_": lambda lib, x: x.put_(lib.tensor([1, 2]), x[:2]),
}


@pytest.mark.parametrize("case", sorted(PARTIAL_OVERLAP))
def test_partially_overlapping_operand_is_refused(case):
    theirs, ours = _both(PARTIAL_OVERLAP[case])
    assert isinstance(theirs, RuntimeError) and "single memory location" in str(theirs)
    assert isinstance(ours, RuntimeError) and "single memory location" in str(ours), ours


def test_partially_overlapping_operand_is_refused_while_recording():
    x = mg.arange(6.0, requires_grad=True)
    y = x * 1
    with pytest.raises(RuntimeError, match="single memory location"):
        y[1:].copy_(y[:-1])
    with pytest.raises(RuntimeError, match="single memory location"):
        y.view(2, 3).add_(y.view(3, 2).t())


# sharing memory is fine where the elements are the same ones in the same layout, where they do not meet (even
# and odd elements), or where the operand is read before anything is written (a fill's 0-d value, masked_scatter)
ALLOWED = {
    "add_self": lambda lib, x: x.add_(x),
    "add_same_view": lambda lib, x: x[1:].add_(x[1:]),
    "add_reshaped_same": lambda lib, x: x.add_(x.view(2, 3).view(6)),
    "disjoint_halves": lambda lib, x: x[:3].add_(x[3:]),
    "even_odd": lambda lib, x: x[::2].mul_(x[1::2]),
    "disjoint_element": lambda lib, x: x[1:].mul_(x[:1]),
    "copy_cast_copies": lambda lib, x: x[1:].copy_(x[:-1].double()),
    "setitem_disjoint": lambda lib, x: x.__setitem__(slice(0, 2), x[4:]),
    "setitem_0d": lambda lib, x: x.__setitem__(slice(1, None), x[0]),
    "fill_0d": lambda lib, x: x.fill_(x[3]),
    "masked_fill_0d": lambda lib, x: x.masked_fill_(x > 2, x[0]),
    "index_fill_0d": lambda lib, x: x.index_fill_(0, lib.tensor([1, 2]), x[0]),
    "masked_scatter_": lambda lib, x: x[1:].masked_scatter_(x[1:] > 2, x[:-1]),
    "addcdiv_same": lambda lib, x: x[1:].addcdiv_(x[1:], x[:-1] + 1),
}


@pytest.mark.parametrize("case", sorted(ALLOWED))
def test_operand_sharing_memory_without_partial_overlap_works(case):
    theirs, ours = _both(ALLOWED[case])
    assert not isinstance(ours, Exception), ours
    np.testing.assert_allclose(ours, theirs)


def test_strided_operand_whose_elements_overlap_is_refused():
    """PyTorch cannot tell here (strided views): it writes in order and the result depends on that order
    ([0, 0, 0, 3, 12, 60]); a clear error rather than a different answer."""
    x = mg.arange(6.0)
    with pytest.raises(RuntimeError, match="single memory location"):
        x.view(2, 3)[:, 1:].mul_(x.view(2, 3)[:, :2])


@pytest.mark.parametrize("op", ["add_", "sub_"])
@pytest.mark.parametrize("view", ["expand", "overlapping_unfold"])
def test_add_into_a_view_whose_elements_share_memory_raises_runtime_error(op, view):
    """add_/sub_'s fast path (nothing recorded) raised NumPy's ValueError 'output array is read-only';
    PyTorch raises RuntimeError for the expanded view (and computes an order-dependent result for unfold)."""
    x = mg.zeros(4, 6)
    v = x[:, :1].expand(4, 6) if view == "expand" else x.unfold(1, 3, 1)
    with pytest.raises(RuntimeError, match="memory location|overlap"):
        getattr(v, op)(mg.ones(v.shape))
    if view == "expand":
        with pytest.raises(RuntimeError, match="single memory location"):
            getattr(torch.zeros(4, 6)[:, :1].expand(4, 6), op)(torch.ones(4, 6))


def test_slice_of_itself_written_back_is_not_an_overlap():
    """``g[:] *= s`` (d2l's grad_clipping) writes g[:] back into g[:]: the same elements (the value's 1 dropped)."""
    for lib in (torch, mg):
        g = lib.arange(8.0).reshape(1, 8)
        g[:] *= 0.5
        assert g.tolist() == [[i / 2 for i in range(8)]]


@pytest.mark.parametrize("requires_grad", [False, True])
def test_in_place_op_on_a_diagonal_of_unfold_windows_writes_through(requires_grad):
    """A view of an unfold view (``x.unfold(1, 2, 2).diagonal()``) was not tracked: while recording, ours raised
    'a view minigrad does not track' where PyTorch writes through to x (NumPy's .base of it is the windows array)."""
    results = []
    for lib in (torch, mg):
        x = lib.tensor(np.arange(48.0).reshape(4, 3, 4) / 10, requires_grad=requires_grad)
        y = x * 1
        v = y.unfold(-1, 2, 2).diagonal()
        v.mul_(lib.tensor(2.0, requires_grad=True))
        v.exp_()
        results.append([y.detach().numpy()])
        if requires_grad:
            (y * y).sum().backward()
            results[-1].append(x.grad.numpy())
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs)


@pytest.mark.parametrize(("op", "reduce"), [("scatter_reduce_", "sum"), ("scatter_reduce_", "amax"),
                                             ("index_reduce_", "prod"), ("index_reduce_", "mean")])
@pytest.mark.filterwarnings("ignore:index_reduce")
def test_reduce_into_then_changed_in_place_raises_at_backward(op, reduce):
    """PyTorch's scatter_reduce_/index_reduce_ backward reads the result (for every reduce), so changing it
    in place afterwards makes backward raise; ours computed a gradient."""
    for lib in (torch, mg):
        x = lib.arange(1.0, 7.0, requires_grad=True)
        y = x * 1
        source = lib.tensor([3.0, 4.0], requires_grad=True)
        getattr(y, op)(0, lib.tensor([1, 1]), source, reduce)
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@pytest.mark.parametrize("target", ["leaf", "empty_view_of_leaf"])
def test_setitem_out_of_range_on_a_leaf_raises_index_error_first(target):
    """``leaf[9] = 1.0`` with 4 rows: PyTorch checks the index before refusing the leaf (IndexError); ours
    raised the leaf's RuntimeError."""
    for lib in (torch, mg):
        x = lib.ones(4, 6, requires_grad=True)
        written = x if target == "leaf" else x[2:2]
        with pytest.raises(IndexError):
            written[9] = 1.0
        with pytest.raises(RuntimeError, match="leaf Variable"):
            x[1] = 1.0
