"""Round 22: nn modules given hostile inputs (wrong rank, feature size or dtype, empty batches, bad targets),
differentially against torch.nn (/tmp/fuzz22_nn_errors.py swept every module class both packages have). Where torch
refuses a call ours refuses it too, with an exception that is also torch's class, naming the op and the offending
shapes/dtypes; where torch computes, ours computes the same dtype."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _both(call: Callable[[Any, Any, Callable], Any], arrays: list[np.ndarray]) -> tuple[Any, Any]:
    """``call(lib, nn_lib, tensor)`` run in torch then ours on the same arrays; each side's result or exception."""
    results = []
    for lib, nn_lib in ((torch, torch.nn), (mg, nn)):
        tensors = [lib.tensor(a) for a in arrays]
        try:
            results.append(call(nn_lib, *tensors))
        except Exception as error:   # noqa: BLE001 - compared below
            results.append(error)
    return results[0], results[1]


def _raises_like_torch(theirs: Any, ours: Any, *names: str) -> None:
    """Both raised, ours an instance of torch's class, its message naming each of ``names``."""
    assert isinstance(theirs, Exception), f"torch computed {theirs!r}"
    assert isinstance(ours, type(theirs)), (type(ours), type(theirs), ours)
    for name in names:
        assert name in str(ours), (name, str(ours))


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("module, shape", [("Dropout", (2, 3)), ("Dropout1d", (2, 3, 4)), ("Dropout2d", (2, 3, 4, 4)),
                                           ("Dropout3d", (2, 3, 2, 2, 2))])
def test_training_dropout_refuses_an_integer_input_and_p_one_keeps_its_dtype(module: str, shape: tuple,
                                                                             dtype: str) -> None:
    """A training dropout with 0 < p < 1 of an integer or bool input raises torch's RuntimeError (the 1/(1-p)
    scale cannot be cast to the input's dtype; ours returned the input's dtype, scaled and truncated); p = 1
    returns zeros of the input's dtype, as torch's (ours returned float64), and an eval one the input itself
    (Dropout1d refused an integer input whatever p and mode)."""
    x = np.ones(shape, dtype)
    theirs, ours = _both(lambda lib, t: getattr(lib, module)(0.5)(t), [x])
    _raises_like_torch(theirs, ours, module.lower(), dtype, str(shape))
    for p, train in ((1.0, True), (0.5, False)):
        theirs, ours = _both(lambda lib, t, p=p, train=train: getattr(lib, module)(p).train(train)(t), [x])
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.") == dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("x, y", [("float32", "complex64"), ("float64", "complex128"), ("float16", "complex64")])
def test_binary_cross_entropy_refuses_a_complex_target(x: str, y: str) -> None:
    """BCELoss's kernel takes the input's dtype: a complex target raises torch's RuntimeError naming both dtypes
    (ours computed, dropping the target's imaginary part)."""
    arrays = [np.full((2, 3), 0.25, x), np.full((2, 3), 0.5 + 0.5j, y)]
    theirs, ours = _both(lambda lib, a, b: lib.BCELoss()(a, b), arrays)
    _raises_like_torch(theirs, ours, "binary_cross_entropy", x, y, "(2, 3)")
    theirs, ours = _both(lambda lib, a, b: lib.BCELoss()(a, b.real.to(a.dtype)), arrays)   # a real one computes
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-3)


@pytest.mark.parametrize("dtype, shape", [("int64", (2, 3)), ("int32", (2, 1)), ("uint8", (2, 3)), ("bool", (2,))])
def test_gaussian_nll_loss_refuses_an_integer_var(dtype: str, shape: tuple) -> None:
    """An integer or bool ``var`` tensor raises torch's RuntimeError (its in-place clamp to eps cannot hold a
    float); ours computed a loss from it."""
    arrays = [np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32), np.ones(shape, dtype)]
    theirs, ours = _both(lambda lib, x, y, v: lib.GaussianNLLLoss()(x, y, v), arrays)
    _raises_like_torch(theirs, ours, "gaussian_nll_loss", dtype, str(shape))


@pytest.mark.parametrize("dtype", ["int32", "int16", "uint8", "bool", "float32"])
@pytest.mark.parametrize("module, shape", [("MaxUnpool1d", (1, 2, 3)), ("MaxUnpool2d", (1, 2, 2, 2))])
def test_max_unpool_takes_int64_indices_only(module: str, shape: tuple, dtype: str) -> None:
    """MaxUnpool's indices must be int64, as torch's kernel requires (RuntimeError); ours took any integer."""
    x = np.ones(shape, np.float32)
    indices = np.zeros(shape, np.int64)
    theirs, ours = _both(lambda lib, a, i: getattr(lib, module)(2)(a, i), [x, indices.astype(dtype)])
    _raises_like_torch(theirs, ours, module.lower().replace("unpool", "_unpool"), dtype, str(shape))
    theirs, ours = _both(lambda lib, a, i: getattr(lib, module)(2)(a, i), [x, indices])
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("module, shape", [("ConvTranspose1d", (2, 2, 0)), ("ConvTranspose2d", (2, 2, 4, 0)),
                                           ("ConvTranspose3d", (1, 2, 0, 2, 2))])
def test_transposed_convolution_refuses_an_empty_spatial_dim(module: str, shape: tuple) -> None:
    """An input with an empty spatial dim (a batch and channels) raises torch's RuntimeError (ours returned the
    bias spread over a made-up output); an empty batch still computes, as torch's."""
    torch.manual_seed(0)
    t_layer = getattr(torch.nn, module)(2, 3, 2)
    o_layer = getattr(nn, module)(2, 3, 2)
    o_layer.load_state_dict({k: v.detach().numpy() for k, v in t_layer.state_dict().items()})
    layers = {torch.nn: t_layer, nn: o_layer}
    theirs, ours = _both(lambda lib, x: layers[lib](x), [np.zeros(shape, np.float32)])
    _raises_like_torch(theirs, ours, module.lower().replace("convtranspose", "conv_transpose"), str(shape))
    theirs, ours = _both(lambda lib, x: layers[lib](x), [np.zeros((0,) + shape[1:], np.float32)])
    assert ours.shape == tuple(theirs.shape)


@pytest.mark.parametrize("call", [lambda lib: lib.RReLU(), lambda lib: lib.LPPool3d(2, 2)])
def test_cpu_float16_without_a_torch_cpu_kernel_raises(call: Callable) -> None:
    """A float16 input on the CPU to a training RReLU or an LPPool3d raises torch's NotImplementedError (its CPU
    kernels rrelu_with_noise and avg_pool3d have no float16 version), naming the op and the shape; ours computed."""
    theirs, ours = _both(lambda lib, x: call(lib)(x), [np.ones((1, 2, 2, 2, 2), np.float16)])
    _raises_like_torch(theirs, ours, "float16", "(1, 2, 2, 2, 2)")


@pytest.mark.parametrize("kwargs, shapes", [
    ({}, [(3, 2, 8), (4, 2, 9), (4, 2, 8)]),               # key and value of different feature sizes
    ({}, [(3, 2, 8), (4, 3, 8), (4, 2, 8)]),               # ... of different batch sizes
    ({"kdim": 6, "vdim": 5}, [(3, 2, 8), (4, 2, 7), (4, 2, 5)]),   # key of the wrong kdim
    ({"kdim": 6, "vdim": 5}, [(3, 2, 8), (4, 3, 6), (4, 2, 5)]),   # key and value of different batch sizes
])
def test_multihead_attention_key_value_mismatch_is_an_assertion(kwargs: dict, shapes: list) -> None:
    """torch asserts MultiheadAttention's key and value shapes (AssertionError); ours raised a ValueError and
    RuntimeError only. A key/value pair of one shape but the wrong batch stays torch's RuntimeError."""
    torch.manual_seed(0)
    layers = {torch.nn: torch.nn.MultiheadAttention(8, 2, **kwargs), nn: nn.MultiheadAttention(8, 2, **kwargs)}
    arrays = [np.zeros(s, np.float32) for s in shapes]
    theirs, ours = _both(lambda lib, q, k, v: layers[lib](q, k, v), arrays)
    _raises_like_torch(theirs, ours, "multi_head_attention_forward", str(shapes[1]), str(shapes[2]))
    if not kwargs:
        theirs, ours = _both(lambda lib, q, k, v: layers[lib](q, k, k), arrays)
        _raises_like_torch(theirs, ours, str(shapes[1]))
        assert not isinstance(ours, AssertionError)


@pytest.mark.parametrize("call, shapes, names", [
    (lambda lib: lib.Transformer(8, 2, 1, 1, 16, batch_first=True), [(), (2, 4, 8)], ["Transformer", "()"]),
    (lambda lib: lib.Transformer(8, 2, 1, 1, 16, batch_first=True), [(2, 3, 8), ()], ["Transformer", "()"]),
    (lambda lib: lib.Transformer(8, 2, 1, 1, 16), [(3, 2, 8), (4,)], ["Transformer", "(4,)"]),
    (lambda lib: lib.AdaptiveLogSoftmaxWithLoss(8, 10, [4]), [(), (3,)], ["AdaptiveLogSoftmaxWithLoss", "()"]),
    (lambda lib: lib.CrossEntropyLoss(), [(), (4,)], ["cross_entropy", "0-d"]),
    (lambda lib: lib.CTCLoss(), [(), (2, 3), (2,), (2,)], ["ctc_loss", "()"]),
    (lambda lib: lib.MaxUnpool1d(2), [(), ()], ["max_unpool1d", "()"]),
    (lambda lib: lib.TransformerEncoder(lib.TransformerEncoderLayer(8, 2, 16), 1, enable_nested_tensor=False), [()],
     ["TransformerEncoder", "0-d"]),
    (lambda lib: lib.FractionalMaxPool2d(2, output_size=2), [()], ["fractional_max_pool2d", "[]"]),
    (lambda lib: lib.FractionalMaxPool2d(2, output_size=2), [(4, 4)], ["fractional_max_pool2d", "[4, 4]"]),
])
def test_a_0d_input_where_torch_reads_a_dim_is_an_index_error(call: Callable, shapes: list, names: list) -> None:
    """A 0-d (or too short) input where torch reads ``size(d)`` raises its IndexError; ours raised a ValueError,
    or a bare "tuple index out of range" (Transformer, AdaptiveLogSoftmaxWithLoss) that named neither."""
    arrays = [np.zeros(s, np.float32) if k == 0 else np.ones(s, np.int64) for k, s in enumerate(shapes)]
    if len(shapes) == 2 and shapes[1] and "Transformer" in names:
        arrays[1] = np.zeros(shapes[1], np.float32)
    torch.manual_seed(0)
    layers = {torch.nn: call(torch.nn), nn: call(nn)}
    theirs, ours = _both(lambda lib, *xs: layers[lib](*xs), arrays)
    _raises_like_torch(theirs, ours, *names)


@pytest.mark.parametrize("shape, names", [([(2, 3, 8), (2, 2, 4, 8)], ["(2, 2, 4, 8)", "3-D"]),
                                          ([(2, 3, 8), (2, 8)], ["(2, 8)", "3-D"])])
def test_transformer_batched_src_with_a_tgt_of_another_rank(shape: list, names: list) -> None:
    """A batched src with a tgt of another rank but the same leading size reaches torch's decoder attention,
    which asserts (AssertionError); ours raised a ValueError/RuntimeError about batch sizes."""
    torch.manual_seed(0)
    layers = {lib: lib.Transformer(8, 2, 1, 1, 16, batch_first=True) for lib in (torch.nn, nn)}
    theirs, ours = _both(lambda lib, s, t: layers[lib](s, t), [np.zeros(s, np.float32) for s in shape])
    _raises_like_torch(theirs, ours, "Transformer", *names)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool"])
@pytest.mark.parametrize("module, shape", [("ConvTranspose1d", (1, 2, 4)), ("ConvTranspose2d", (1, 2, 3, 3))])
def test_integer_transposed_convolution_is_not_implemented(module: str, shape: tuple, dtype: str) -> None:
    """torch has no integer transposed convolution (NotImplementedError); ours raised a TypeError/RuntimeError."""
    layers = {lib: getattr(lib, module)(2, 3, 2) for lib in (torch.nn, nn)}
    theirs, ours = _both(lambda lib, x: layers[lib](x), [np.ones(shape, dtype)])
    _raises_like_torch(theirs, ours, module.lower().replace("convtranspose", "conv_transpose"), dtype, str(shape))


@pytest.mark.parametrize("shapes, names", [([(3, 9), (3,)], ["AdaptiveLogSoftmaxWithLoss", "(3, 9)", "in_features=8"]),
                                           ([(3, 8), (2,)], ["Input and target should have the same size"])])
def test_adaptive_log_softmax_errors_name_the_layer_and_shapes(shapes: list, names: list) -> None:
    """AdaptiveLogSoftmaxWithLoss checks in_features up front, naming the layer and the input's shape (ours named
    a tail Linear and a subset of rows, (2, 9)), with torch's RuntimeError; its target checks keep torch's words."""
    torch.manual_seed(0)
    layers = {lib: lib.AdaptiveLogSoftmaxWithLoss(8, 10, [4]) for lib in (torch.nn, nn)}
    arrays = [np.zeros(shapes[0], np.float32), np.array([0, 5, 9][:shapes[1][0]], np.int64)]
    theirs, ours = _both(lambda lib, x, t: layers[lib](x, t), arrays)
    _raises_like_torch(theirs, ours, *names)


@pytest.mark.parametrize("call, position, names", [
    (lambda: nn.MultiheadAttention(8, 2, batch_first=True), 1, ["MultiheadAttention", "key", "ndarray"]),
    (lambda: nn.MultiheadAttention(8, 2, batch_first=True), 2, ["MultiheadAttention", "value", "list"]),
    (lambda: nn.Transformer(8, 2, 1, 1, 16, batch_first=True), 0, ["Transformer", "src", "list"]),
    (lambda: nn.Unflatten(1, (2, 2)), 0, ["Unflatten", "input", "ndarray"]),
])
def test_a_non_tensor_input_is_refused_naming_the_layer(call: Callable, position: int, names: list) -> None:
    """A NumPy array or list where these layers need a Tensor raises a TypeError naming the layer and the
    argument (ours raised "axes don't match array" or "'list' object has no attribute 'ndim'"; torch's is an
    AttributeError of the same kind)."""
    shapes = {3: [(2, 3, 8), (2, 4, 8), (2, 4, 8)], 2: [(2, 3, 8), (2, 4, 8)], 1: [(3, 4)]}
    layer = call()
    count = {"MultiheadAttention": 3, "Transformer": 2, "Unflatten": 1}[names[0]]
    args: list[Any] = [mg.zeros(s) for s in shapes[count]]
    args[position] = np.zeros(shapes[count][position], np.float32)
    if "list" in names:
        args[position] = args[position].tolist()
    with pytest.raises(TypeError) as error:
        layer(*args)
    for name in names:
        assert name in str(error.value)


@pytest.mark.parametrize("call, arrays, names", [
    (lambda lib: lib.CrossMapLRN2d(3), [np.ones((2, 4, 3, 3), np.int64)], ["CrossMapLRN2d", "int64"]),
    (lambda lib: lib.CrossMapLRN2d(3), [np.ones((2, 4, 3, 3), np.uint8)], ["CrossMapLRN2d", "uint8"]),
    (lambda lib: lib.SmoothL1Loss(beta=0.0), [np.ones((2, 3), bool), np.ones((2, 3), np.float32)],
     ["smooth_l1_loss", "bool"]),
    (lambda lib: lib.PoissonNLLLoss(log_input=False), [np.ones((2, 3), bool), np.ones((2, 3), np.float32)],
     ["poisson_nll_loss", "bool"]),
    (lambda lib: lib.PoissonNLLLoss(full=True), [np.ones((2, 3), np.float32), np.ones((2, 3), bool)],
     ["poisson_nll_loss", "bool"]),
])
def test_integer_and_bool_inputs_refused_where_torch_refuses(call: Callable, arrays: list, names: list) -> None:
    """CrossMapLRN2d of an integer input (its float scale cannot be cast back), and the losses that subtract a
    bool operand (smooth L1 with beta=0 is torch's l1_loss; Poisson's input - target·log(input) and its Stirling
    term) raise torch's RuntimeError; ours computed."""
    layers = {lib: call(lib) for lib in (torch.nn, nn)}
    theirs, ours = _both(lambda lib, *xs: layers[lib](*xs), arrays)
    _raises_like_torch(theirs, ours, *names)


@pytest.mark.parametrize("call, arrays, names", [
    (lambda lib: lib.SyncBatchNorm(3), [np.ones((4, 2, 5), np.float32)], ["SyncBatchNorm", "(4, 2, 5)", "3"]),
    (lambda lib: lib.Bilinear(4, 5, 3), [np.ones(4, np.float32), np.ones((), np.float32)], ["bilinear", "()"]),
])
def test_shape_refusals_are_torchs_runtime_error(call: Callable, arrays: list, names: list) -> None:
    """SyncBatchNorm's channel-count refusal was a ValueError only and Bilinear's 0-d input2 a bare IndexError
    ("tuple index out of range"); both are torch's RuntimeError, naming the layer and the shapes."""
    torch.manual_seed(0)
    layers = {lib: call(lib) for lib in (torch.nn, nn)}
    theirs, ours = _both(lambda lib, *xs: layers[lib](*xs), arrays)
    _raises_like_torch(theirs, ours, *names)
