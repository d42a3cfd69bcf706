"""Round 16 differential fuzzing of indexing, scatter and in-place writes under autograd against PyTorch: one test
per root cause found (setitem chains on views, in-place ops on reduction results and on views of leaves)."""

import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(call, *args):
    """call(*args) → its result, or the exception it raised (compared by class)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call(*args)
    except Exception as error:  # noqa: BLE001 - compared below
        return error


REDUCTIONS = {
    "norm": lambda t: t.norm(),
    "max": lambda t: t.max(),
    "min": lambda t: t.min(),
    "amax": lambda t: t.amax(),
    "amin": lambda t: t.amin(),
    "aminmax": lambda t: t.aminmax()[1],
    "logsumexp": lambda t: t.logsumexp(0),
    "median": lambda t: t.median(),
    "nanmedian": lambda t: t.nanmedian(),
}


@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@pytest.mark.parametrize("write", ["mul_", "iadd", "clamp_", "two writes"])
def test_in_place_op_on_a_reduction_result(op, write):
    """``n = x.norm(); n += 1e-6`` (max, min, logsumexp, median … of all elements) raised 'in-place op on a view of
    another tensor' while recording: the result views the op's own saved array. PyTorch writes it (and writes it
    again), and a backward through the op (which saved its result) then raises."""
    outcomes = []
    for lib in (torch, mg):
        x = lib.tensor([1.0, 3.0, 2.0], requires_grad=True)
        n = REDUCTIONS[op](x * 1)
        if write == "mul_":
            n.mul_(2)
        elif write == "iadd":
            n += 1
        elif write == "two writes":   # the second one saw the first one's node, which had not saved the memory
            n.mul_(2)
            n.sub_(lib.tensor(1.0, requires_grad=True))
        else:
            n.clamp_(min=2.5)
        outcomes.append((n.item(), _outcome(n.backward)))
    (theirs, their_error), (ours, our_error) = outcomes
    assert ours == pytest.approx(theirs)
    assert isinstance(their_error, RuntimeError) and "modified by an inplace operation" in str(their_error)
    assert isinstance(our_error, RuntimeError) and "modified by an inplace operation" in str(our_error), our_error


WRITES = {
    "add_ tensor": lambda lib, v: v.add_(lib.ones(2)),
    "sub_ tensor alpha": lambda lib, v: v.sub_(lib.ones(2), alpha=2),
    "mul_": lambda lib, v: v.mul_(2),
    "clamp_": lambda lib, v: v.clamp_(0, 1),
    "copy_": lambda lib, v: v.copy_(lib.ones(2)),
    "setitem int": lambda lib, v: v.__setitem__(0, 5.0),
    "setitem tensor index": lambda lib, v: v.__setitem__(lib.tensor([1]), 5.0),
    "index_fill_": lambda lib, v: v.index_fill_(0, lib.tensor([0]), 5.0),
    "setitem out of range": lambda lib, v: v.__setitem__(7, 5.0),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("view", ["slice", "slice of a reshape"])
def test_in_place_op_on_a_view_made_before_its_base_required_grad(write, view):
    """``v = x[:2]; x.requires_grad_(); v.add_(1)``: PyTorch's view reads its base's flag and refuses ('a view of a
    leaf Variable that requires grad'); ours wrote into the leaf silently. Under no_grad both write."""
    results = []
    for lib in (torch, mg):
        x = lib.zeros(3)
        v = x[:2] if view == "slice" else x.reshape(3, 1)[:2, 0]
        x.requires_grad_()
        outcome = _outcome(WRITES[write], lib, v)
        with lib.no_grad():
            v.add_(lib.ones(2))
        results.append((outcome, x.detach().numpy().tolist()))
    (theirs, their_x), (ours, our_x) = results
    assert isinstance(theirs, (RuntimeError, IndexError))
    assert type(theirs) is IndexError or "view of a leaf Variable" in str(theirs)
    assert isinstance(ours, type(theirs)), ours
    assert type(ours) is IndexError or "view of a leaf Variable" in str(ours)
    assert our_x == their_x == [1.0, 1.0, 0.0]


NO_GRAD_VIEW_WRITES = {
    "add_ tensor": lambda lib, v: v.add_(lib.ones(2)),
    "sub_ tensor alpha": lambda lib, v: v.sub_(lib.ones(2), alpha=2),
    "setitem int": lambda lib, v: v.__setitem__(0, 5.0),
    "setitem tensor index": lambda lib, v: v.__setitem__(lib.tensor([1]), 5.0),
}


@pytest.mark.parametrize("write", sorted(NO_GRAD_VIEW_WRITES))
def test_write_into_a_no_grad_view_with_grad_mode_on_is_refused(write):
    """A view made under no_grad of a tensor that requires grad, written with grad mode on by a value that needs no
    grad: add_/sub_ of a tensor (a fast path that records nothing) and setitem skipped PyTorch's refusal and wrote
    into the base (RuntimeError in PyTorch)."""
    for lib in (torch, mg):
        y = lib.ones(3, requires_grad=True) * 1
        with lib.no_grad():
            part = y[:2]
        with pytest.raises(RuntimeError, match="no_grad mode"):
            NO_GRAD_VIEW_WRITES[write](lib, part)
        assert y.detach().numpy().tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("int_dtype", [np.int64, np.int32, np.int16, np.int8])
@pytest.mark.parametrize("value", [2.0, "0-d tensor", "(1,) tensor"])
def test_uint8_mask_after_a_0d_int_index_is_a_refused_fill(int_dtype, value):
    """``x[tensor(1), uint8_mask] = 2.0``: PyTorch selects with the 0-d int tensor first, so the uint8 mask is the only
    index and a one-element value is its masked_fill_, which refuses uint8 (RuntimeError); ours filled the masked
    elements."""
    outcomes = []
    for lib in (torch, mg):
        x = lib.zeros(2, 3)
        v = {"0-d tensor": lib.tensor(2.0), "(1,) tensor": lib.tensor([2.0])}.get(value, value)
        index = (lib.tensor(np.array(1, int_dtype)), lib.tensor(np.array([1, 0, 1], np.uint8)))
        outcomes.append(_outcome(x.__setitem__, index, v))
        outcomes.append(x.numpy().tolist())
    assert isinstance(outcomes[0], RuntimeError)
    assert isinstance(outcomes[2], RuntimeError), outcomes[2]
    assert outcomes[3] == outcomes[1]


INTEGER_WRITES = {
    "row of a matrix": (lambda lib: lib.zeros(2, 3), 1, [7.5, 1.0, 2.0]),
    "rows by a slice": (lambda lib: lib.zeros(2, 3), slice(0, 2), [2.5, 1.5, 0.5]),
    "element of a vector": (lambda lib: lib.zeros(3), 0, 2.5),
    "column of a transpose": (lambda lib: lib.zeros(2, 3).t(), (slice(None), 1), [2.5, 1.5, 0.5]),
}


@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool"])
@pytest.mark.parametrize("case", sorted(INTEGER_WRITES))
def test_value_that_requires_grad_written_into_an_integer_tensor(case, dtype):
    """``x[1] = v`` with x an integer (or bool) tensor and v a float tensor that requires grad: PyTorch casts (copy_)
    and x does not require grad; ours recorded it, so x (an int64 tensor) required grad and a backward through it
    gave v a gradient through the cast (1.5 for ``(x * 1.5).sum()``)."""
    results = []
    for lib in (torch, mg):
        make, index, value = INTEGER_WRITES[case]
        x = make(lib).to(getattr(lib, dtype))
        v = lib.tensor(value, requires_grad=True)
        x[index] = v
        results.append((x.requires_grad, x.tolist(), type(_outcome(lambda y: (y * 1.5).sum().backward(), x))))
    assert results[1] == results[0] == (False, results[0][1], RuntimeError)


ORDER_CASES = {
    # a value that does not fit is PyTorch's RuntimeError even where an index is also out of range
    "tensor index out of range": lambda lib, x, v: x.__setitem__(lib.tensor([3, 3]), v(3)),
    "list index out of range": lambda lib, x, v: x.__setitem__([5], v(2)),
    "column out of range": lambda lib, x, v: x.view(3, 1).__setitem__((slice(None), [5]), v(2, 2)),
    "index_put accumulate": lambda lib, x, v: x.index_put_((lib.tensor([5, 7]),), v(3), accumulate=True),
    # an indexed dim of size 0 is PyTorch's IndexError first
    "empty dim": lambda lib, x, v: x[3:].__setitem__(lib.tensor([0, 0]), v(3)),
    "empty dim accumulate": lambda lib, x, v: x[3:].index_put_((lib.tensor([0]),), v(3), accumulate=True),
    # an index out of range into a part with no elements: PyTorch writes nothing and raises nothing
    "empty part": lambda lib, x, v: x.view(3, 1)[0:0].__setitem__((slice(None), lib.tensor([5])), v(1)),
    "empty part accumulate": lambda lib, x, v: x.view(3, 1)[:, 0:0].index_put_((lib.tensor([5]),), v(0),
                                                                               accumulate=True),
}


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("case", sorted(ORDER_CASES))
def test_advanced_index_write_errors_in_pytorch_order(case, requires_grad):
    """NumPy checks an index's range before the value's shape; PyTorch checks an indexed dim of size 0 (IndexError),
    then the value's shape (RuntimeError), then the range (IndexError), and raises nothing for an index out of range
    into a part with no elements. Ours raised IndexError for the first group, RuntimeError for the second and
    IndexError (at backward, too) for the third."""
    outcomes = []
    for lib in (torch, mg):
        x = lib.zeros(3, requires_grad=requires_grad) * 1

        def values(*shape, lib=lib):
            return lib.ones(*shape, requires_grad=requires_grad)
        outcome = _outcome(ORDER_CASES[case], lib, x, values)
        outcome = outcome if isinstance(outcome, Exception) else None
        if outcome is None and requires_grad:
            outcome = _outcome(lambda y: y.sum().backward(), x)
        outcomes.append(outcome)
    theirs, ours = outcomes
    if theirs is None:
        assert ours is None
    else:
        assert isinstance(ours, type(theirs)), ours
        assert isinstance(theirs, IndexError) == isinstance(ours, IndexError), ours


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["prod", "amax", "amin", "mean"])
@pytest.mark.parametrize("shape", [(2, 3), (3,), (2, 3, 2)])
def test_index_reduce_of_bool_tensors(shape, reduce, include_self):
    """PyTorch reduces a bool tensor of 2 dims or more slice by slice, so index_reduce's prod (and), amax (or) and
    amin (and) work there with include_self=True; ours raised NotImplementedError for every bool tensor (PyTorch's
    error only for 1-D tensors, for mean and for include_self=False)."""
    rng = np.random.default_rng(len(shape) + len(reduce))
    x, source = rng.random(shape) < 0.5, rng.random((3,) + shape[1:]) < 0.5
    outcomes = []
    for lib in (torch, mg):
        outcomes.append(_outcome(lambda lib: lib.tensor(x).index_reduce(0, lib.tensor([1, 0, 1]), lib.tensor(source),
                                                                        reduce, include_self=include_self).tolist(),
                                 lib))
    theirs, ours = outcomes
    if isinstance(theirs, Exception):
        assert isinstance(theirs, NotImplementedError) and isinstance(ours, NotImplementedError), ours
    else:
        assert ours == theirs


EMPTY_INDEX_OF_0D = {
    "scatter src": lambda lib, x, i, s: x.scatter(0, i, s),
    "scatter value": lambda lib, x, i, s: x.scatter(0, i, 2.0),
    "scatter_add": lambda lib, x, i, s: x.scatter_add(0, i, s),
    "scatter_reduce sum": lambda lib, x, i, s: x.scatter_reduce(0, i, s, "sum"),
    "scatter_reduce amax": lambda lib, x, i, s: x.scatter_reduce(0, i, s, "amax", include_self=False),
}


@pytest.mark.parametrize("shapes", [((2, 0), (2, 0)), ((0, 3), (0, 3)), ((0, 1), ())])
@pytest.mark.parametrize("op", sorted(EMPTY_INDEX_OF_0D))
def test_scatter_into_a_0d_tensor_with_an_empty_index(op, shapes):
    """A 0-d tensor scattered with an empty index of 2 dims: PyTorch returns it unchanged (no element to write);
    ours raised 'a 0-d tensor takes a 0-d or 1-D index'. Gradients: x's passes through, src's is 0."""
    index_shape, src_shape = shapes
    results = []
    for lib in (torch, mg):
        x = lib.tensor(1.5, dtype=lib.float64, requires_grad=True)
        src = lib.ones(src_shape, dtype=lib.float64, requires_grad=True)
        y = EMPTY_INDEX_OF_0D[op](lib, x * 1, lib.zeros(index_shape, dtype=lib.int64), src)
        y.backward()
        results.append((y.item(), x.grad.item(), None if src.grad is None else src.grad.sum().item()))
    assert results[1][:2] == results[0][:2] == (1.5, 1.0)
    assert results[1][2] in (None, 0.0) and results[0][2] in (None, 0.0)


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("op", ["index_put", "index_put_"])
def test_index_put_with_no_index_tensor_raises(op, accumulate):
    """``x.index_put((), v)``: PyTorch raises a RuntimeError; ours wrote v everywhere (NumPy's ``x[()] = v``)."""
    for lib in (torch, mg):
        x = lib.zeros(2, 3)
        with pytest.raises(RuntimeError):
            getattr(x, op)((), lib.tensor(1.0), accumulate=accumulate)
        assert x.tolist() == [[0.0] * 3] * 2


LEAF_FIRST = {
    # an advanced index is PyTorch's index_put_, which refuses the leaf before it looks at the index
    "tensor index out of range": lambda lib, x: x.__setitem__(lib.tensor([5]), 1.0),
    "mask of another shape": lambda lib, x: x.__setitem__(lib.tensor([True]), 1.0),
    "slice and tensor index out of range": lambda lib, x: x.__setitem__((slice(0, 1), lib.tensor([9])), 1.0),
    "copy_ of a source that does not broadcast": lambda lib, x: x.copy_(lib.ones(4)),
    # ints select first: their IndexError comes first
    "int out of range": lambda lib, x: x.__setitem__(7, 1.0),
    "int out of range and a tensor index": lambda lib, x: x.__setitem__((7, lib.tensor([0])), 1.0),
}


@pytest.mark.parametrize("target", ["leaf", "view of a leaf", "no_grad view"])
@pytest.mark.parametrize("case", sorted(LEAF_FIRST))
def test_write_into_a_leaf_is_refused_before_its_arguments_are_checked(case, target):
    """``leaf[tensor([5])] = 1.0`` with 2 rows: PyTorch refuses the leaf (RuntimeError) before index_put_ reads the
    index; ours raised the index's IndexError (and copy_'s shape error) first. An int index selects first in both."""
    outcomes = []
    for lib in (torch, mg):
        leaf = lib.zeros(2, 3, requires_grad=True)
        if target == "no_grad view":
            y = leaf * 1
            with lib.no_grad():
                x = y[:]
        else:
            x = leaf if target == "leaf" else leaf[:]
        outcomes.append(_outcome(LEAF_FIRST[case], lib, x))
    theirs, ours = outcomes
    assert isinstance(theirs, (RuntimeError, IndexError))
    assert isinstance(ours, RuntimeError if not isinstance(theirs, IndexError) else IndexError), ours
    assert isinstance(theirs, IndexError) == isinstance(ours, IndexError), ours
