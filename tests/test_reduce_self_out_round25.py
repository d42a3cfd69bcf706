"""A reduction or scan given its own input, or a view of it, as ``out=`` (round 25).

PyTorch 2.13 resizes an ``out`` that is the input before it reduces, so it reduces what is left (sum → 0,
amax → -inf, std → NaN, max(dim) → the first element), and its reduction kernels read what they already wrote
into an ``out`` that is a view of the input; it refuses some of these with its overlap error. minigrad computed
the right reduction in every case, a silent difference: it now refuses with PyTorch's overlap error where PyTorch
refuses or is wrong, and computes where PyTorch is right (``logsumexp`` always; ``median`` and ``kthvalue`` into a
strided view; ``max``/``std``/``mode`` … and the scans into the very input, shape unchanged).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg

# row 1 holds strict column extremes, so an out of row 1 filled with the identity first shows in every reduction
DATA = [[2.0, 1.5, -4.0], [9.0, -9.0, 1.0], [-3.0, 0.5, 3.0], [1.0, 2.0, -1.0]]


# PyTorch's wrong results depend on the values (an identity written first is harmless where it is not the answer):
# its side of each cell is checked over these, and ours on DATA
MORE_DATA = [np.random.default_rng(0).integers(-5, 6, (4, 3)).tolist(), [[1, 1, 1], [-1, -1, -1], [1, 1, 1], [1, 1, 1]]]


def _data(lib, kind, values=None):
    x = lib.tensor(DATA if values is None else values, dtype=lib.float32)
    return {"f": x, "i": (x * 2).to(lib.int64), "b": x > 0}[kind]


def _pair(lib, o, second):
    return o if second is None else (o, lib.empty(0, dtype=o.dtype if second == "same" else lib.int64))


# name: (call(lib, x, out, dim, keepdim), input kind, second out, cases computed as PyTorch computes them right)
REDUCTIONS = {
    "sum": (lambda L, x, o, d, k: L.sum(x, d, k, out=o), "f", None, ()),
    "mean": (lambda L, x, o, d, k: L.mean(x, d, k, out=o), "f", None, ()),
    "prod": (lambda L, x, o, d, k: L.prod(x, d, k, out=o), "f", None, ()),
    "amax": (lambda L, x, o, d, k: L.amax(x, d, k, out=o), "f", None, ()),
    "amin": (lambda L, x, o, d, k: L.amin(x, d, k, out=o), "f", None, ()),
    "nansum": (lambda L, x, o, d, k: L.nansum(x, d, k, out=o), "f", None, ()),
    "nanmean": (lambda L, x, o, d, k: L.nanmean(x, d, k, out=o), "f", None, ()),
    "all": (lambda L, x, o, d, k: L.all(x, d, k, out=o), "b", None, ()),
    "any": (lambda L, x, o, d, k: L.any(x, d, k, out=o), "b", None, ()),
    "max": (lambda L, x, o, d, k: L.max(x, d, k, out=o), "f", "long", ("self_same",)),
    "min": (lambda L, x, o, d, k: L.min(x, d, k, out=o), "f", "long", ("self_same",)),
    "std": (lambda L, x, o, d, k: L.std(x, d, keepdim=k, out=o), "f", None, ("self_same",)),
    "var": (lambda L, x, o, d, k: L.var(x, d, keepdim=k, out=o), "f", None, ("self_same",)),
    "norm": (lambda L, x, o, d, k: L.norm(x, 2, d, k, out=o), "f", None, ("self_same",)),
    "vector_norm": (lambda L, x, o, d, k: L.linalg.vector_norm(x, 2, d, k, out=o), "f", None, ("self_same",)),
    "argmax": (lambda L, x, o, d, k: L.argmax(x, d, k, out=o), "i", None, ("self_same",)),
    "argmin": (lambda L, x, o, d, k: L.argmin(x, d, k, out=o), "i", None, ("self_same",)),
    "aminmax": (lambda L, x, o, d, k: L.aminmax(x, dim=d, keepdim=k, out=o), "f", "same", ("self_same",)),
    "mode": (lambda L, x, o, d, k: L.mode(x, d, k, out=o), "f", "long", ("self_same",)),
    "median": (lambda L, x, o, d, k: L.median(x, d, k, out=o), "f", "long", ("self_same",)),
    "nanmedian": (lambda L, x, o, d, k: L.nanmedian(x, d, k, out=o), "f", "long", ("self_same",)),
    "kthvalue": (lambda L, x, o, d, k: L.kthvalue(x, 1, d, k, out=o), "f", "long", ("strided",)),
    "logsumexp": (lambda L, x, o, d, k: L.logsumexp(x, d, k, out=o), "f", None,
                  ("self_resize", "self_same", "dense", "strided")),
}

# case: x -> (input, out, dim, keepdim)
CASES = {
    "self_resize": lambda x: (x, x, 1, False),               # out is the input: (4, 3) resized to (4,)
    "self_same": lambda x: (x[:, 1:2].clone(), None, 1, True),   # out is the input, (4, 1) kept
    # out a view of the input whose elements are read for other outputs (out[0] is x[2, 0], of row 2's sum)
    "dense": lambda x: (x, x.reshape(-1)[6:10], 1, False),         # PyTorch checks a dense view (or not)
    "strided": lambda x: (x, x.reshape(-1)[4:12:2], 1, False),     # a strided one it does not check
}

SCANS = {
    "cumsum": lambda L, x, o, d: L.cumsum(x, d, out=o),
    "cumprod": lambda L, x, o, d: L.cumprod(x, d, out=o),
    "logcumsumexp": lambda L, x, o, d: L.logcumsumexp(x, d, out=o),
    "cummax": lambda L, x, o, d: L.cummax(x, d, out=(o, L.empty(0, dtype=L.int64))),
    "cummin": lambda L, x, o, d: L.cummin(x, d, out=(o, L.empty(0, dtype=L.int64))),
}

SCAN_CASES = {
    "self": lambda x: (x, x, 0),
    "rows_shifted": lambda x: (x[:-1], x[1:], 0),             # dense, partly overlapping
    "columns_shifted": lambda x: (x[:, :-1], x[:, 1:], 1),    # strided, partly overlapping
    "transposed": lambda x: (x[:3], x[:3].T, 0),               # the same memory in another layout
}

OVERLAP = "unsupported operation: some elements of the input tensor .* refer to a single memory location"


def _values(result):
    return (result[0] if isinstance(result, tuple) else result).tolist()


def _outcome(lib, call, make, kind, second, values=None):
    """("refused", message) or ("computed", (values, the values of the same call on a copy of the input))."""
    x, out, dim, keepdim = make(_data(lib, kind, values))
    out = x if out is None else out
    expected = _values(call(lib, x.clone(), None, dim, keepdim))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (PyTorch's resize warning)
            got = _values(call(lib, x, _pair(lib, out, second), dim, keepdim))
    except (RuntimeError, IndexError) as error:
        return ("refused", str(error))
    return ("computed", (got, expected))


def _right(pair) -> bool:
    got, expected = pair
    return np.shape(got) == np.shape(expected) and np.allclose(got, expected, equal_nan=True)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_a_reduction_into_its_own_memory_computes_only_where_pytorch_is_right(torch, name, case) -> None:
    call, kind, second, computed = REDUCTIONS[name]
    theirs, their_values = _outcome(torch, call, CASES[case], kind, second)
    if case in computed:
        assert theirs == "computed" and _right(their_values)
        ours, values = _outcome(mg, call, CASES[case], kind, second)
        assert ours == "computed", values
        np.testing.assert_array_equal(values[0], their_values[0])
    else:   # PyTorch refuses, or its result is not the reduction of the input for some values
        outcomes = [_outcome(torch, call, CASES[case], kind, second, values) for values in [DATA, *MORE_DATA]]
        assert any(o == "refused" or not _right(v) for o, v in outcomes)
        with pytest.raises(RuntimeError, match=f"^{name}\\(\\): {OVERLAP}"):
            _raise(mg, call, case, kind, second)


def _raise(lib, call, case, kind, second):
    x, out, dim, keepdim = CASES[case](_data(lib, kind))
    call(lib, x, _pair(lib, x if out is None else out, second), dim, keepdim)


@pytest.mark.parametrize("case", list(SCAN_CASES))
@pytest.mark.parametrize("name", list(SCANS))
def test_a_scan_into_its_own_memory_computes_only_where_pytorch_is_right(torch, name, case) -> None:
    def run(lib, values=None):
        x, out, dim = SCAN_CASES[case](_data(lib, "f", values))
        expected = _values(SCANS[name](lib, x.clone(), x.clone(), dim))
        try:
            return "computed", (_values(SCANS[name](lib, x, out, dim)), expected)
        except RuntimeError as error:
            return "refused", str(error)

    theirs, their_values = run(torch)
    if case == "self":
        assert theirs == "computed" and _right(their_values)
        ours, values = run(mg)
        assert ours == "computed" and values[0] == their_values[0]
    else:
        outcomes = [run(torch, values) for values in [DATA, *MORE_DATA]]
        assert any(o == "refused" or not _right(v) for o, v in outcomes)
        ours, message = run(mg)
        assert ours == "refused" and message.startswith(f"{name}(): unsupported operation"), message


def test_the_overlap_error_names_the_op_and_the_shapes() -> None:
    x = mg.tensor(DATA)
    with pytest.raises(RuntimeError, match=r"^sum\(\): .*input tensor \(shape \(4, 3\)\).*\(out, shape \(4, 3\)\).*"
                                           r"clone\(\) the tensor"):
        mg.sum(x, 0, out=x)
    assert x.tolist() == DATA   # untouched
    y = mg.sum(x, 0, out=mg.empty(3))   # an out of its own memory: as before
    assert y.tolist() == [9.0, -5.0, -1.0]
