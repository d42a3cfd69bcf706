"""Round 14 differential fuzzing of indexing and scatter/gather against PyTorch: one test per root cause found."""

import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

X = np.arange(6.0).reshape(3, 2)


def _both(call, index_dtype):
    """call(lib, x, i, j) on torch and minigrad: (torch's result or exception, ours)."""
    i = np.array([1, 0, 1], index_dtype)
    j = np.array([[1, 0], [0, 1], [1, 1]], index_dtype)
    results = []
    for lib in (torch, mg):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results.append(call(lib, lib.tensor(X), lib.tensor(i), lib.tensor(j)))
        except Exception as error:  # noqa: BLE001 - compared below
            results.append(error)
    return results


INDEX_OPS = {
    "index_select": lambda lib, x, i, j: x.index_select(0, i),
    "index_add": lambda lib, x, i, j: x.index_add(0, i, x),
    "index_copy": lambda lib, x, i, j: x.index_copy(0, i, x),
    "index_fill": lambda lib, x, i, j: x.index_fill(0, i, -1.0),
    "index_reduce": lambda lib, x, i, j: x.index_reduce(0, i, x, "prod"),
    "scatter": lambda lib, x, i, j: x.scatter(0, j, x),
    "scatter_add": lambda lib, x, i, j: x.scatter_add(0, j, x),
    "scatter_reduce": lambda lib, x, i, j: x.scatter_reduce(0, j, x, "amax"),
    "put": lambda lib, x, i, j: x.put(i, lib.ones(3, dtype=x.dtype)),
    "put_": lambda lib, x, i, j: x.put_(i, lib.ones(3, dtype=x.dtype), accumulate=True),
}


@pytest.mark.parametrize("op", sorted(INDEX_OPS))
@pytest.mark.parametrize("index_dtype", [np.uint8, np.int16, np.int8])
def test_index_ops_refuse_small_integer_indices(op, index_dtype):
    """A uint8/int16 index was read as a mask (index_select: rows 0 and 2 instead of PyTorch's error) or as
    ints where PyTorch raises; PyTorch takes int32/int64 only."""
    theirs, ours = _both(INDEX_OPS[op], index_dtype)
    assert isinstance(theirs, (RuntimeError, IndexError))
    assert isinstance(ours, type(theirs)), ours


@pytest.mark.parametrize("op", sorted(INDEX_OPS))
def test_index_ops_take_int32_indices(op):
    theirs, ours = _both(INDEX_OPS[op], np.int32)
    if isinstance(theirs, Exception):   # int64-only in PyTorch (index_copy, index_fill, put): ours is the same op
        theirs, _ = _both(INDEX_OPS[op], np.int64)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("values", [[-1.0, -2.0], [5.0]])
def test_index_put_uint8_index_is_a_mask(accumulate, values):
    """index_put((uint8,), v): PyTorch reads the uint8 tensor as a (deprecated) bool mask, as x[i] does; ours added
    at the integer positions 1, 0, 1 (a silent wrong result). A one-element value without accumulate is PyTorch's
    masked_fill_, which refuses uint8: RuntimeError."""
    theirs, ours = _both(lambda lib, x, i, j: x.index_put((i,), lib.tensor(values, dtype=lib.float64),
                                                           accumulate=accumulate), np.uint8)
    if isinstance(theirs, Exception):
        assert isinstance(theirs, RuntimeError) and isinstance(ours, RuntimeError), ours
    else:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_index_put_int16_index_raises_index_error():
    i = np.array([1, 0], np.int16)
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        torch.tensor(X).index_put((torch.tensor(i),), torch.tensor(1.0, dtype=torch.float64))
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        mg.tensor(X).index_put((mg.tensor(i),), mg.tensor(1.0, dtype=mg.float64))


@pytest.mark.parametrize("call", [
    lambda lib, x, i: x.scatter_reduce(0, i, x, "mean"),
    lambda lib, x, i: x.scatter_reduce(0, i, x, "mean", include_self=False),
    lambda lib, x, i: x.index_reduce(0, i, x, "prod"),
    lambda lib, x, i: x.index_reduce(0, i, x, "amax"),
    lambda lib, x, i: x.index_reduce(0, i, x, "mean"),
])
def test_bool_reductions_raise_not_implemented(call):
    """PyTorch has no bool kernel for scatter_reduce 'mean' nor for index_reduce: NotImplementedError (ours was a
    TypeError, or a result)."""
    for lib in (torch, mg):
        with pytest.raises(NotImplementedError):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                call(lib, lib.tensor([True, False]), lib.tensor([0, 1]))


ERROR_CASES = {
    # index_copy's source not fitting: PyTorch's IndexError (ours was a ValueError/RuntimeError only)
    "index_copy source ndim": (lambda lib: lib.zeros(2, 3).index_copy(1, lib.tensor([0]), lib.zeros(2, 3, 1)),
                               IndexError),
    "index_copy source size": (lambda lib: lib.zeros(2, 3).index_copy(1, lib.tensor([0]), lib.zeros(2, 2)), IndexError),
    "index_copy_ source 1-D": (lambda lib: lib.zeros(2, 3).index_copy_(1, lib.tensor([0]), lib.zeros(3)), IndexError),
    # masked_scatter with a source of another dtype: RuntimeError (ours was a TypeError only)
    "masked_scatter dtype": (lambda lib: lib.zeros(2).masked_scatter(lib.tensor([True, False]),
                                                                     lib.zeros(2, dtype=lib.float64)), RuntimeError),
    # a 0-d tensor scattered with a 2-D index: RuntimeError (ours was a ValueError)
    "scatter_add 0-d": (lambda lib: lib.tensor(1.0).scatter_add(0, lib.tensor([[0]]), lib.tensor([[1.0]])),
                        RuntimeError),
    "scatter 0-d": (lambda lib: lib.tensor(1.0).scatter(0, lib.tensor([[0]]), lib.tensor([[1.0]])), RuntimeError),
    # a 0-d tensor's dim out of range is checked first: IndexError (ours was a ValueError about the shapes)
    # a 0-d input with a two-element index: RuntimeError (ours was a ValueError)
    "index_select 0-d": (lambda lib: lib.tensor(1.0).index_select(0, lib.tensor([0, 0])), RuntimeError),
    "scatter_reduce 0-d dim": (lambda lib: lib.tensor(1.0).scatter_reduce(1, lib.tensor([0]), lib.tensor([1.0]), "sum"),
                               IndexError),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_classes_match_pytorch(case):
    call, error = ERROR_CASES[case]
    with pytest.raises(error):
        call(torch)
    with pytest.raises(error):
        call(mg)


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_error_names_the_op_once(accumulate):
    """The message said 'index_put: index_put: ...' (the op's prefix, then index_put's own)."""
    with pytest.raises(IndexError) as info:
        mg.zeros(3, 1).index_put((mg.tensor([0, 3]),), mg.tensor(1.0), accumulate=accumulate)
    assert str(info.value).startswith("index_put: ") and str(info.value).count("index_put") == 1
    assert "index 3" in str(info.value)


@pytest.mark.parametrize("call", [
    lambda lib, x, v: x.index_put((lib.tensor([0, 0, 2]),), v, accumulate=True),
    lambda lib, x, v: x.put(lib.tensor([0, 5, 5, 11]), v, accumulate=True),
])
def test_accumulating_index_put_has_a_complex_gradient(call):
    """index_put(accumulate=True) and put(accumulate=True) of complex tensors raised 'no complex gradient yet'."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(np.complex64)
    v = (rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype(np.complex64)
    w = (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(np.complex64)
    results = []
    for lib in (torch, mg):
        xt, vt = lib.tensor(x, requires_grad=True), lib.tensor(v, requires_grad=True)
        y = call(lib, xt, vt)
        (y.real * lib.tensor(w.real) + y.imag * lib.tensor(w.imag)).sum().backward()
        results.append([np.asarray(a) for a in (y.detach().numpy(), xt.grad.numpy(), vt.grad.numpy())])
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_masked_scatter_has_a_complex_gradient():
    """masked_scatter of complex tensors raised 'no complex gradient yet'; PyTorch has one."""
    rng = np.random.default_rng(1)
    x, s, w = ((rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype(np.complex64)
               for _ in range(3))
    mask = rng.random((3, 4)) < 0.5
    results = []
    for lib in (torch, mg):
        xt, st = lib.tensor(x, requires_grad=True), lib.tensor(s, requires_grad=True)
        y = xt.masked_scatter(lib.tensor(mask), st)
        (y.real * lib.tensor(w.real) + y.imag * lib.tensor(w.imag)).sum().backward()
        results.append([np.asarray(a) for a in (y.detach().numpy(), xt.grad.numpy(), st.grad.numpy())])
    for theirs, ours in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("x_dtype", ["float32", "complex64"])
@pytest.mark.parametrize("value", [2 + 1j, "tensor"])
def test_index_fill_complex_value(x_dtype, value):
    """index_fill with a complex number refused complex tensors (TypeError); a complex 0-d tensor filled a real
    tensor with its real part. PyTorch fills a complex tensor and refuses a real one (RuntimeError)."""
    outcomes = []
    for lib in (torch, mg):
        v = lib.tensor(2 + 1j) if value == "tensor" else value
        try:
            outcomes.append(lib.ones(3, dtype=getattr(lib, x_dtype)).index_fill(0, lib.tensor([1]), v).numpy())
        except RuntimeError as error:
            outcomes.append(error)
    _same_outcome(*outcomes)


def test_complex_amax_reductions_raise_not_implemented():
    for lib in (torch, mg):
        x = lib.ones(3, dtype=lib.complex64)
        with pytest.raises(NotImplementedError):
            x.scatter_reduce(0, lib.tensor([0, 1, 1]), x, "amax")
        with pytest.raises(NotImplementedError):
            x.index_reduce(0, lib.tensor([0, 1, 1]), x, "amin")


def _fill_masked(lib, v):
    return lib.ones(3).masked_fill(lib.tensor([True, False, True]), v)


def _fill_masked_(lib, v):
    return lib.ones(3).masked_fill_(lib.tensor([True, False, True]), v)


def _set_masked(lib, v):
    y = lib.ones(3)
    y[lib.tensor([True, False, True])] = v
    return y


def _set_indexed(lib, v):
    y = lib.ones(3)
    y[lib.tensor([0, 2])] = v
    return y


def _set_sliced(lib, v):
    y = lib.ones(3)
    y[0:2] = v
    return y


# (_set_indexed with a complex tensor of imaginary part 0 is left out: PyTorch's index_put refuses a value of
# another dtype, ours casts it, a documented difference)
COMPLEX_WRITES = [(write, value) for write in (_fill_masked, _fill_masked_, _set_masked, _set_indexed, _set_sliced)
                  for value in (2 + 1j, 2 + 0j, "tensor", "real tensor")
                  if not (write is _set_indexed and value == "real tensor")]


@pytest.mark.parametrize(("write", "value"), COMPLEX_WRITES)
def test_complex_value_written_into_a_real_tensor(write, value):
    """masked_fill and x[mask] = v with a complex 0-d tensor kept its real part where PyTorch raises (imaginary part
    not 0): a silent wrong result; a complex Python number with imaginary part 0 raised where PyTorch takes it."""
    outcomes = []
    for lib in (torch, mg):
        v = {"tensor": lib.tensor(2 + 1j), "real tensor": lib.tensor(2 + 0j)}.get(value, value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcomes.append(write(lib, v).numpy())
        except RuntimeError as error:
            outcomes.append(error)
    _same_outcome(*outcomes)


def _same_outcome(theirs: object, ours: object) -> None:
    """torch's result (an array or the RuntimeError it raised) and ours: the same values, or a RuntimeError too."""
    if isinstance(theirs, Exception):
        assert isinstance(ours, RuntimeError), ours
    else:
        np.testing.assert_array_equal(ours, theirs)
