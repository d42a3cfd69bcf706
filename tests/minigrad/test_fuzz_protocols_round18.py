"""Round 18: what plain Python and NumPy code does to a tensor, against PyTorch 2.13.

Regression cases found by the differential fuzzer /tmp/fuzz18_protocols.py (operators with NumPy scalars and
arrays on either side, NumPy functions of tensors, builtins, copy/pickle/weakref, DLPack, constructors from
NumPy, printing). One test per root cause, each compared with live torch.
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch", reason="no torch")
# PyTorch's own Tensor.__array_wrap__ is older than NumPy 2's signature
pytestmark = pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning")


def _state(x: object) -> tuple:
    """What a user sees of a copied tensor: class, values, dtype, requires_grad, leaf-ness, grad."""
    values = x.detach().numpy() if isinstance(x, torch.Tensor) else x.numpy()
    return (type(x).__name__, values.tolist(), str(x.dtype).replace("torch.", ""), x.requires_grad, x.is_leaf,
            x.grad is None)


def _leaf_with_grad(lib: object) -> object:
    x = lib.tensor([1.5, -2.0, 3.0], requires_grad=True)
    (x * 2).sum().backward()
    return x


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1.0, 2.0, 3.0])[1:],                                  # a view (it held weakrefs)
    lambda lib: (lambda t: (t[1:], t)[1])(lib.tensor([1.0, 2.0, 3.0])),          # a base whose view exists
    lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]]).T,
    lambda lib: lib.tensor([1.0, 2.0]).expand(3, 2),
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,                 # a non-leaf: a leaf again
    _leaf_with_grad,                                                              # the grad stays behind
    lambda lib: (lambda p: ((p * 2).sum().backward(), p)[1])(
        (torch.nn.Parameter if lib is torch else nn.Parameter)(lib.tensor([1.0, 2.0]))),
], ids=["view", "base-of-view", "transposed", "expanded", "non-leaf", "leaf-with-grad", "parameter"])
@pytest.mark.parametrize("how", ["pickle", "copy.copy"])
def test_pickle_and_copy_give_a_leaf_as_pytorch(make: object, how: str) -> None:
    """pickle.dumps raised for any tensor that had a view ("cannot pickle 'weakref.ReferenceType'") or a graph
    ("cannot pickle 'module'"), and kept .grad; copy.copy kept the graph. Both now rebuild a leaf as PyTorch's
    __reduce_ex__ does (copy.copy sharing the memory)."""
    dump = (lambda v: pickle.loads(pickle.dumps(v))) if how == "pickle" else copy.copy
    ours, theirs = dump(make(mg)), dump(make(torch))
    assert _state(ours) == _state(theirs)


def test_copy_copy_shares_memory_and_keeps_attributes_as_pytorch() -> None:
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0]) if lib is torch else nn.Parameter(mg.tensor([1.0, 2.0]))
        if lib is torch:
            x.label = "w"
        else:
            x.__dict__["label"] = "w"
        c = copy.copy(x)
        c.detach().mul_(3) if lib is torch else c.data.__imul__(3)
        assert x.tolist() == [3.0, 6.0] and c.label == "w"
        assert pickle.loads(pickle.dumps(x)).label == "w"


@pytest.mark.parametrize("value, convert", [
    (1.5 + 0j, float), (2.5 + 0j, int), (-0.5 + 0j, math.floor), (1.5 + 0j, lambda t: f"{float(t):.1f}"),
    (1.5 + 2j, float), (1.5 + 2j, int), (0j, complex),
])
def test_float_and_int_of_a_complex_tensor_read_its_real_part_as_pytorch(value: complex, convert: object) -> None:
    """float()/int() of a complex tensor raised TypeError even with a zero imaginary part; PyTorch gives the
    real part, and raises RuntimeError only for a non-zero imaginary part."""
    def run(lib: object) -> object:
        try:
            return convert(lib.tensor(value))
        except RuntimeError:
            return RuntimeError
    assert run(mg) == run(torch)


@pytest.mark.parametrize("fn", [
    lambda x: np.exp(x), lambda x: np.add(x, 1), lambda x: np.isnan(x), lambda x: np.maximum(x, 0),
    lambda x: np.sqrt(x), lambda x: np.multiply(x, np.float64(2)), lambda x: np.divmod(x, 2)[1],
    lambda x: np.exp(x[1:]), lambda x: np.add(x, x),
], ids=["exp", "add1", "isnan", "maximum", "sqrt", "mul-np-f64", "divmod", "exp-view", "add-tt"])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_numpy_ufuncs_of_tensors_give_tensors_as_pytorch(fn: object, dtype: str) -> None:
    """numpy.exp(t), numpy.isnan(t) … raised NumPy's "operand type(s) all returned NotImplemented"; PyTorch
    computes them with NumPy and gives a Tensor (bools as uint8), and refuses a tensor that requires grad."""
    values = np.array([1.5, -2.0, 0.0, 3.0]).astype(dtype)
    with np.errstate(all="ignore"):
        ours, theirs = fn(mg.tensor(values)), fn(torch.tensor(values))
    assert isinstance(ours, mg.Tensor) and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_numpy_ufunc_of_a_tensor_that_requires_grad_raises_as_pytorch() -> None:
    for lib in (mg, torch):
        with pytest.raises(RuntimeError, match="requires grad"):
            np.exp(lib.tensor([1.0], requires_grad=True))
        assert float(np.exp(lib.tensor([1.0], requires_grad=True).detach())[0]) == pytest.approx(math.e)


@pytest.mark.parametrize("source", [lambda: np.matrix([[1.0, 2.0]]), lambda: np.ma.array([1.0, 2.0], mask=[0, 1])],
                         ids=["matrix", "masked"])
def test_asarray_copy_true_of_an_ndarray_subclass_copies_as_pytorch(source: object) -> None:
    """mg.asarray(np.matrix(...), copy=True) shared the matrix's memory: a later write to the matrix showed."""
    results = []
    for lib in (mg, torch):
        array = source()
        out = lib.asarray(array, copy=True)
        array[(0,) * array.ndim] = 9.0
        results.append(out.tolist())
    assert results[0] == results[1]


@pytest.mark.parametrize("make", [
    lambda lib: lib.as_tensor(np.broadcast_to(np.arange(3.0), (2, 3)), dtype=lib.float32),
    lambda lib: lib.asarray(np.broadcast_to(np.arange(3.0), (2, 3)), dtype=lib.float32),
    lambda lib: lib.Tensor(np.broadcast_to(np.arange(3.0), (2, 3))),
], ids=["as_tensor", "asarray", "Tensor"])
def test_a_cast_copy_of_a_broadcast_array_is_c_ordered_as_pytorch(make: object) -> None:
    """A NumPy broadcast (0-stride) array cast on the way in was laid out in F order (NumPy's order="K"), so
    .view(-1) raised where PyTorch's C-ordered copy works."""
    ours, theirs = make(mg), make(torch)
    assert ours.stride() == theirs.stride() and ours.is_contiguous() == theirs.is_contiguous()
    assert ours.view(-1).tolist() == theirs.view(-1).tolist()


@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda lib: lib.tensor([1 + 2j, -0.5j], dtype=lib.complex128, requires_grad=True) * 1,
    lambda lib: lib.tensor([[1.5, 2.5]], dtype=lib.float64, requires_grad=True).sum(0),
    lambda lib: lib.tensor([0.1, 100.0], dtype=lib.float64, requires_grad=True).tanh(),
    lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)[0],
], ids=["mul", "complex128-wraps", "sum-dim", "tanh-float64", "select"])
def test_repr_names_the_node_as_pytorch_and_wraps_where_it_wraps(make: object) -> None:
    """repr printed minigrad's short op name (grad_fn=<mul>), whose other length also moved the dtype/grad_fn
    suffixes onto one line where PyTorch wraps them; it now prints grad_fn.name(), PyTorch's text exactly (bar
    NumPy's dtype names)."""
    assert repr(make(mg)) == repr(make(torch)).replace("torch.", "")


@pytest.mark.parametrize("operand", [
    lambda: np.array([1.5, 2.0, 3.0], dtype=object), lambda: np.array([1, 2, 3], dtype=object),
    lambda: np.array([1.0, 2.0, 3.0], dtype=np.longdouble), lambda: np.longdouble(2.0),
    lambda: np.array(["a", "b", "c"]), lambda: np.zeros(3, dtype=[("a", "f4"), ("b", "i4")]),
], ids=["object", "object-int", "longdouble", "longdouble-scalar", "str", "structured"])
@pytest.mark.parametrize("call", [
    lambda t, a: t + a, lambda t, a: a * t, lambda t, a: t @ a, lambda t, a: t.add(a), lambda t, a: mg.maximum(t, a)
    if isinstance(t, mg.Tensor) else torch.maximum(t, a),
], ids=["add", "rmul", "matmul", "add-method", "maximum"])
def test_operands_of_no_tensor_dtype_are_refused_as_pytorch(operand: object, call: object) -> None:
    """t + numpy_object_array gave a Tensor of dtype object, and a longdouble operand a float128 tensor (t @
    object_array an AttributeError): PyTorch refuses to convert such arrays (TypeError), and so does minigrad.
    A longdouble NumPy scalar is refused too (PyTorch's arithmetic reads it as a Python float, dropping the extra
    precision; minigrad keeps a NumPy scalar's dtype, and no tensor holds this one)."""
    if not isinstance(operand(), np.longdouble):
        with pytest.raises(TypeError):
            call(torch.tensor([1.0, 2.0, 3.0]), operand())
    with pytest.raises(TypeError, match="dtype|input"):
        call(mg.tensor([1.0, 2.0, 3.0]), operand())



def numpy_cumsum(x):  # (named, so the test below can tell it apart)
    return np.cumsum(x)


@pytest.mark.parametrize("fn", [
    lambda x: np.round(x), lambda x: np.reshape(x, -1), lambda x: np.argmax(x), numpy_cumsum,
    lambda x: np.argsort(x), lambda x: np.linalg.inv(x),
], ids=["round", "reshape", "argmax", "cumsum", "argsort", "linalg.inv"])
def test_numpy_functions_computing_on_the_array_give_tensors_as_pytorch(fn: object) -> None:
    """numpy.round(t), numpy.reshape(t, -1), numpy.linalg.inv(t) … compute on numpy.asarray(t) and hand the
    result to t.__array_wrap__: PyTorch's gives a Tensor, minigrad had none (an ndarray or NumPy scalar came back);
    a tensor that requires grad is refused, as PyTorch's numpy() refuses it."""
    values = np.array([[1.5, 2.5], [-0.5, 4.0]], dtype=np.float32)
    ours, theirs = fn(mg.tensor(values)), fn(torch.tensor(values))
    assert isinstance(ours, mg.Tensor) and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError):
        fn(torch.tensor(values, requires_grad=True))
    leaf = mg.tensor(values, requires_grad=True)
    if fn is numpy_cumsum:   # numpy.cumsum(t) calls t.cumsum(axis=None): NumPy's keyword, NumPy's result (DESIGN
        fn(leaf).sum().backward()   # §3, round 21), which keeps the graph; PyTorch refuses axis= and falls back
        np.testing.assert_array_equal(leaf.grad.numpy(), [[4, 3], [2, 1]])   # to numpy(), which it refuses
    else:
        with pytest.raises(RuntimeError):
            fn(leaf)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)])
def test_numpy_transpose_of_a_tensor_reverses_its_dims_as_pytorch(shape: tuple) -> None:
    """numpy.transpose(t) calls t.transpose(None), NumPy's spelling of "reverse the dims", which raised
    ShapeMismatchError ("1 dims (None,) given"); PyTorch's numpy.transpose(t) gives the reversed tensor."""
    values = np.arange(float(np.prod(shape))).reshape(shape)
    ours, theirs = np.transpose(mg.tensor(values)), np.transpose(torch.tensor(values))
    assert isinstance(ours, mg.Tensor) and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert mg.tensor(values).transpose(None).shape == values.T.shape


@pytest.mark.parametrize("wrap", [mg.from_numpy, mg.as_tensor, mg.from_dlpack])
def test_a_write_into_a_read_only_numpy_array_names_it(wrap: object) -> None:
    """An in-place op on a tensor over a non-writable NumPy array said the tensor's "elements overlap in memory
    (overlapping windows of unfold or as_strided)". PyTorch writes into such memory (warning that it is undefined
    behaviour); minigrad refuses, and now says why."""
    array = np.arange(3.0)
    array.flags.writeable = False
    t = wrap(array)
    with pytest.raises(RuntimeError, match="non-writable NumPy array"):
        t.add_(1)
    assert array.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("items, dtype", [
    (lambda lib: [lib.tensor(1j), 2.0], "float32"), (lambda lib: [3, lib.tensor(1j, dtype=lib.complex64)], "float64"),
    (lambda lib: [[lib.tensor(0.5 - 2j)], [1.0]], "float32"), (lambda lib: [lib.tensor(1 + 0j), 2.0], "float32"),
    (lambda lib: [lib.tensor(1j), 2.0], None),
])
def test_a_complex_tensor_in_a_list_keeps_its_imaginary_part_or_raises_as_pytorch(items: object, dtype: object) -> None:
    """mg.tensor([mg.tensor(1j), 2.0], dtype=mg.float32) dropped the imaginary part silently ([0., 2.]); PyTorch
    reads each tensor as a number and refuses a complex one with a non-zero imaginary part (RuntimeError)."""
    def run(lib: object) -> object:
        try:
            return lib.tensor(items(lib), dtype=None if dtype is None else getattr(lib, dtype)).tolist()
        except RuntimeError:
            return RuntimeError
    assert run(mg) == run(torch)


@pytest.mark.parametrize("fn", [
    lambda x: np.add.reduce(x), lambda x: np.add.reduce(x, axis=1), lambda x: np.maximum.accumulate(x),
    lambda x: np.logical_and.reduce(x > 2), lambda x: np.add.reduceat(x[0], [0, 2]),
    lambda x: np.multiply.outer(x[0], x[0]),
], ids=["add.reduce", "add.reduce-axis", "maximum.accumulate", "logical_and.reduce", "add.reduceat", "outer"])
def test_numpy_ufunc_methods_of_tensors_as_pytorch(fn: object) -> None:
    """numpy.add.reduce(t), numpy.maximum.accumulate(t) … raised NumPy's "returned NotImplemented"; PyTorch's
    give Tensors (and outer NumPy's ndarray)."""
    values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    ours, theirs = fn(mg.tensor(values)), fn(torch.tensor(values))
    assert isinstance(ours, mg.Tensor) == isinstance(theirs, torch.Tensor)
    assert str(ours.dtype).replace("torch.", "") == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.gpu
@pytest.mark.parametrize("fn", [lambda x: np.exp(x), lambda x: np.add.reduce(x), lambda x: np.round(x)],
                         ids=["ufunc", "ufunc-method", "wrapped"])
def test_numpy_functions_refuse_a_gpu_tensor_as_pytorch(fn: object) -> None:
    """PyTorch refuses to hand a CUDA tensor to NumPy (TypeError); so do the NumPy paths above (the stand-in
    runs this without a GPU)."""
    with pytest.raises(TypeError, match="cuda"):
        fn(mg.tensor([1.5, 2.5], device="cuda"))
