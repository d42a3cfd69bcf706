"""Round 19, second batch of leftovers: threshold's numbers converted into the input's dtype, integer hinge
embedding losses, optimizer hyper-parameter checks, broadcast_to/expand argument spellings, complex numbers
written into complex tensors, and a few grad_fn names, each compared with live PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
import nn
from nn import functional as F

torch = pytest.importorskip("torch", reason="no torch")
TF = torch.nn.functional


def _outcome(call):
    """``call()``'s (values, dtype name), or the exception it raised."""
    try:
        out = call()
    except Exception as error:  # noqa: BLE001 - the class is the comparison
        return error
    return out.tolist(), str(out.dtype).replace("torch.", "")


def _same(ours, theirs) -> None:
    """The two outcomes agree: equal values (NaN where NaN) and dtypes, or ours raised an instance of PyTorch's
    class."""
    if isinstance(theirs, Exception):
        assert isinstance(ours, type(theirs)), (ours, theirs)
    else:
        assert not isinstance(ours, Exception), (ours, theirs)
        assert ours[1] == theirs[1] and np.array_equal(ours[0], theirs[0], equal_nan=True), (ours, theirs)


@pytest.mark.parametrize(("dtype", "limit", "value"), [
    ("uint8", 2, 255.9), ("int8", 300, 1), ("uint8", -300, 1), ("int8", 2, float("nan")), ("int8", float("inf"), 1),
    ("uint8", 2, -2.5), ("float16", 2, 1e5), ("float32", 1e39, 1), ("int64", 2**63, 1), ("int64", 2**62 + 1, 7),
    ("uint8", -1, 5), ("uint8", 2, -1), ("int8", 1.5, 2.7), ("int8", 2, 3 + 0j), ("int16", True, 5),
    ("float16", 0.99999, 5.0), ("float16", 65520.0, 1.0),
])
def test_threshold_converts_its_numbers_into_the_input_dtype(dtype, limit, value):
    data = np.array([0, 1, 2, 3, 5], dtype=dtype)
    if dtype == "int64":
        data = np.array([0, 2**62, 2**62 + 1, 2**62 + 2, 5], dtype=dtype)
    ours = _outcome(lambda: F.threshold(mg.tensor(data), limit, value))
    theirs = _outcome(lambda: TF.threshold(torch.tensor(data), limit, value))
    _same(ours, theirs)


@pytest.mark.parametrize(("dtype", "target", "margin", "reduction"), [
    ("int64", "int64", 1.0, "none"), ("int32", "float32", 1.5, "sum"), ("uint8", "int64", 2.7, "none"),
    ("uint8", "int64", -1, "none"), ("int8", "int64", 300, "none"), ("int64", "int64", 1.0, "mean"),
    ("int8", "int64", True, "sum"), ("bool", "int64", 1.0, "none"), ("float16", "int64", 1e5, "none"),
])
def test_hinge_embedding_loss_takes_integer_inputs(dtype, target, margin, reduction):
    data = np.array([[1, 0, 3, 1], [2, 5, 0, 4]], dtype=dtype)
    labels = np.array([1, -1, -1, 255], dtype=target)   # 255 is neither label, also for an int8 input
    ours = _outcome(lambda: F.hinge_embedding_loss(mg.tensor(data), mg.tensor(labels), margin, reduction=reduction))
    theirs = _outcome(lambda: TF.hinge_embedding_loss(torch.tensor(data), torch.tensor(labels), margin,
                                                      reduction=reduction))
    _same(ours, theirs)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "NAdam", "Adamax"])
@pytest.mark.parametrize("betas", [(0, 0.9), (0.9, 0), (np.float32(0.5), 0.9), (np.float64(0.5), 0.9), [0.0, 0.5],
                                   (1, 0.9), (0.9, 1.0)])
def test_adam_takes_its_constructor_betas_as_floats_only(name, betas):
    def build(module, parameter):
        return getattr(module.optim, name)([parameter], betas=betas)

    ours = _outcome(lambda: build(nn, nn.Parameter(mg.zeros(2))) and mg.zeros(1))
    theirs = _outcome(lambda: build(torch, torch.nn.Parameter(torch.zeros(2))) and torch.zeros(1))
    _same(ours, theirs)


@pytest.mark.parametrize(("name", "shape", "args"), [
    ("broadcast_to", (1, 3, 1), (2, 3, 4)), ("broadcast_to", (3,), (2, -1)), ("broadcast_to", (3,), (3,)),
    ("broadcast_to", (3,), ("Size", (2, 3))), ("reshape", (1,), ()), ("view", (1,), ()), ("expand", (), ()),
    ("tile", (2, 3), ()), ("sum_to_size", (1,), ()), ("resize_", (1,), ()),
    ("permute", (2, 3, 4), ("tensor", [2, 0, 1])), ("permute", (2, 3, 4), ((2, 0), 1)),
    ("permute", (1,), ("tensor", [0])), ("view", (2, 3), ("tensor", [3, 2])),
])
def test_size_arguments_are_spelled_as_pytorchs(name, shape, args):
    def call(lib):
        spelled = {"Size": lambda: (lib.Size(args[1]),), "tensor": lambda: (lib.tensor(args[1]),)}
        given = spelled[args[0]]() if args and isinstance(args[0], str) else args
        return getattr(lib.zeros(shape), name)(*given)

    _same(_outcome(lambda: call(mg)), _outcome(lambda: call(torch)))


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("value", [1 + 2j, 1j, 2 + 0j, 3, 2.5, 1e39j, complex(1e39, 0)])
@pytest.mark.parametrize("op", ["scatter", "scatter_", "scatter_value", "where", "where_first", "setitem", "fill_",
                                "masked_fill_", "index_put_"])
def test_a_complex_number_is_written_into_a_complex_tensor(dtype, value, op):
    def call(lib):
        z, i, m = lib.tensor(np.array([1, 2, 3], dtype=dtype)), lib.tensor([0, 2]), lib.tensor([True, False, True])
        calls = {
            "scatter": lambda: z.scatter(0, i, value), "scatter_": lambda: z.scatter_(0, i, value),
            "scatter_value": lambda: lib.scatter(z, 0, i, value=value), "where": lambda: lib.where(m, z, value),
            "where_first": lambda: lib.where(m, value, z), "setitem": lambda: (z.__setitem__(1, value), z)[1],
            "fill_": lambda: z.fill_(value), "masked_fill_": lambda: z.masked_fill_(m, value),
            "index_put_": lambda: z.index_put_((i,), lib.tensor(value, dtype=z.dtype)),
        }
        return calls[op]()

    _same(_outcome(lambda: call(mg)), _outcome(lambda: call(torch)))


@pytest.mark.parametrize(("call", "shape"), [
    (lambda lib, x: lib.vdot(x, x.detach()), (3,)), (lambda lib, x: x.vdot(x.detach() * 2), (3,)),
    (lambda lib, x: x.split([2, 3])[1], (5, 2)), (lambda lib, x: lib.split(x, [1, 4])[0], (5, 2)),
    (lambda lib, x: x.split(2)[0], (5, 2)), (lambda lib, x: x.split([5])[0], (5, 2)),
    (lambda lib, x: lib.atleast_2d(x), (3,)), (lambda lib, x: lib.atleast_3d(x), (3,)),
    (lambda lib, x: lib.atleast_3d(x), (2, 3)), (lambda lib, x: lib.atleast_2d(x), ()),
    (lambda lib, x: lib.atleast_3d((x, x))[1], ()), (lambda lib, x: lib.unsafe_split(x, 2)[2], (5, 2)),
    (lambda lib, x: lib.unsafe_split_with_sizes(x, [2, 3])[0], (5, 2)), (lambda lib, x: x.unsafe_chunk(2)[1], (5,)),
])
def test_grad_fn_names_of_vdot_split_with_sizes_and_atleast_nd(call, shape):
    data = np.arange(1.0, 1.0 + math.prod(shape)).reshape(shape)
    ours = call(mg, mg.tensor(data, requires_grad=True)).grad_fn.name()
    theirs = call(torch, torch.tensor(data, requires_grad=True)).grad_fn.name()
    assert ours == theirs


@pytest.mark.parametrize(("dtype", "low", "high"), [
    ("float16", 0.5, 1e5), ("float16", -1e5, 2.0), ("int8", 0, 300), ("int8", -1.5, 2.5), ("uint8", 0, 2.5),
])
def test_hardtanh_converts_its_limits_into_the_input_dtype(dtype, low, high):
    data = np.array([0, 1, 2, 3, 100], dtype=dtype)
    _same(_outcome(lambda: F.hardtanh(mg.tensor(data), low, high)),
          _outcome(lambda: TF.hardtanh(torch.tensor(data), low, high)))


@pytest.mark.parametrize(("dtype", "number"), [
    ("float16", 1e5), ("float16", 65520.0), ("float32", 1e39), ("float64", 1e300), ("float16", float("nan")),
    ("float32", float("inf")), ("float16", 2.5),
])
def test_pad_value_and_softshrink_lambda_must_fit_the_input_dtype(dtype, number):
    data = np.array([[1, 2], [3, 4]], dtype=dtype)
    _same(_outcome(lambda: F.pad(mg.tensor(data), (1, 1), value=number)),
          _outcome(lambda: TF.pad(torch.tensor(data), (1, 1), value=number)))
    _same(_outcome(lambda: F.softshrink(mg.tensor(data), number)),
          _outcome(lambda: TF.softshrink(torch.tensor(data), number)))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int64", "uint8"])
@pytest.mark.parametrize("value", [2**63, -2**63 - 1, 2**64, -2**63])
@pytest.mark.parametrize("mask", [False, True])
def test_setitem_reads_an_int_as_int64_first(dtype, value, mask):
    def write(lib):
        z = lib.zeros(3, dtype=getattr(lib, dtype))
        z[lib.tensor([True, False, True]) if mask else 1] = value
        return z

    _same(_outcome(lambda: write(mg)), _outcome(lambda: write(torch)))


@pytest.mark.gpu
def test_the_fixed_paths_run_on_the_gpu_as_on_the_cpu():
    def run(device):
        x = mg.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], device=device)
        i = mg.tensor([[0, 2, 1]], device=device)
        z = mg.zeros(3, dtype=mg.complex64, device=device)
        z[1] = 2 + 1j
        outs = [
            F.threshold(x, 0.75, -1.0), F.threshold(x.half(), 0.99999, 5.0).float(), F.hardtanh(x, -1.5, 2.5),
            F.hinge_embedding_loss(x.long(), mg.tensor([1, -1, 1], device=device), reduction="sum"),
            F.hinge_embedding_loss(x, mg.tensor([1, -1, 1], device=device)),
            x[:1, :1].broadcast_to(2, 3), mg.zeros(2, 3, dtype=mg.complex64, device=device).scatter(1, i, 1j).abs(),
            mg.where(x > 0, z.broadcast_to(2, 3), 3j).abs(), F.pad(x.half(), (1, 1), value=2.5).float(),
            F.softshrink(x, 0.75),
        ]
        return [out.cpu().numpy() for out in outs]

    for ours, cpu in zip(run("cuda"), run("cpu")):
        np.testing.assert_array_equal(ours, cpu)
