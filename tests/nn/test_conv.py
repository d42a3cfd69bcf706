"""Conv1d/Conv2d, max/average/adaptive pooling and the 1-D padding layers against PyTorch.

Every differentiable function: gradcheck in float64, then values and the gradients of every input equal
torch's (1e-10 in float64); the modules with torch's weights copied in, in float64 and float32.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import assert_close, check_op, to_torch

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(7)


def leaf(*shape: int, dtype: type = np.float64) -> mg.Tensor:
    return mg.tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=True)


# --- conv1d / conv2d ---------------------------------------------------------------------------------

CONV1D_CASES = [
    dict(),
    dict(stride=2),
    dict(padding=2, dilation=2),
    dict(padding="same", dilation=3),
    dict(padding="same"),          # an even kernel: the extra element after, as PyTorch
    dict(padding="valid", stride=3),
    dict(groups=2, padding=1),
    dict(groups=4, stride=2, padding=3, dilation=2),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # torch's, about its own copy
@pytest.mark.parametrize("kernel", [1, 3, 4])
@pytest.mark.parametrize("options", CONV1D_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv1d_as_pytorch(torch, kernel: int, options: dict, bias: bool) -> None:
    groups = options.get("groups", 1)
    x, w = leaf(2, 4, 9), leaf(4, 4 // groups, kernel)
    inputs = [x, w] + ([leaf(4)] if bias else [])
    check_op(lambda *a: F.conv1d(*a[:2], a[2] if bias else None, **options), inputs, torch,
             lambda *a: torch.nn.functional.conv1d(*a[:2], a[2] if bias else None, **options))


@pytest.mark.parametrize("options", [dict(), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
                                     dict(padding="same", groups=2), dict(stride=2, groups=2, padding=1)])
def test_conv2d_as_pytorch(torch, options: dict) -> None:
    groups = options.get("groups", 1)
    inputs = [leaf(2, 4, 5, 6), leaf(6, 4 // groups, 3, 2), leaf(6)]
    check_op(lambda x, w, b: F.conv2d(x, w, b, **options), inputs, torch,
             lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **options))


def test_unbatched_inputs_as_pytorch(torch) -> None:
    check_op(lambda x, w: F.conv1d(x, w, padding=1), [leaf(3, 6), leaf(2, 3, 3)], torch,
             lambda x, w: torch.nn.functional.conv1d(x, w, padding=1))
    check_op(lambda x, w: F.conv2d(x, w), [leaf(2, 4, 4), leaf(3, 2, 2, 2)], torch,
             lambda x, w: torch.nn.functional.conv2d(x, w))


def test_conv_refuses_what_pytorch_refuses() -> None:
    x = leaf(2, 4, 6)
    with pytest.raises(ValueError, match="expects an input with 2 channels"):
        F.conv1d(x, leaf(3, 2, 3))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        F.conv1d(x, leaf(3, 4, 7))
    with pytest.raises(ValueError, match="not supported for strided"):
        F.conv1d(x, leaf(3, 4, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="invalid padding string"):
        F.conv1d(x, leaf(3, 4, 3), padding="full")
    with pytest.raises(TypeError, match="same dtype"):
        F.conv1d(x, leaf(3, 4, 3, dtype=np.float32))
    with pytest.raises(ValueError, match="expected a 2-D \\(unbatched\\) or 3-D"):
        F.conv1d(leaf(6), leaf(3, 4, 3))
    with pytest.raises(ValueError, match="stride must be positive"):
        F.conv1d(x, leaf(3, 4, 3), stride=0)


# --- the modules ------------------------------------------------------------------------------------

def copy_from(ours: nn.Module, theirs: object) -> None:
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def compare_module(torch, ours: nn.Module, theirs: object, x: np.ndarray, rtol: float, atol: float) -> None:
    """Outputs, input gradients and parameter gradients of the two modules on ``x``."""
    xo, xt = mg.tensor(x, requires_grad=True), to_torch(torch, x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert_close(yo, yt, rtol, atol, "forward")
    weights = RNG.standard_normal(yo.shape).astype(x.dtype)
    (yo * mg.tensor(weights)).sum().backward()
    (yt * torch.from_numpy(weights)).sum().backward()
    assert_close(xo.grad, xt.grad, rtol, atol, "input grad")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad, rtol, atol, f"grad of {name}")


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("options", [dict(padding=2), dict(padding="same", dilation=2), dict(padding=1, stride=2),
                                     dict(groups=3, padding=1, bias=False)])
def test_conv1d_module_as_pytorch_in_float64_and_float32(torch, padding_mode: str, options: dict) -> None:
    ours = nn.Conv1d(6, 9, 3, padding_mode=padding_mode, dtype=mg.float64, **options)
    theirs = torch.nn.Conv1d(6, 9, 3, padding_mode=padding_mode, dtype=torch.float64, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.weight.shape == tuple(theirs.weight.shape)
    assert repr(ours) == repr(theirs)
    assert ours._reversed_padding_repeated_twice == list(theirs._reversed_padding_repeated_twice)
    copy_from(ours, theirs)
    x = RNG.standard_normal((3, 6, 11))
    compare_module(torch, ours, theirs, x, 1e-10, 1e-12)
    compare_module(torch, ours.float(), theirs.float(), x.astype(np.float32), 1e-5, 1e-5)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "circular"])
def test_conv2d_module_as_pytorch(torch, padding_mode: str) -> None:
    ours = nn.Conv2d(4, 6, (3, 2), stride=(1, 2), padding=(1, 1), groups=2, padding_mode=padding_mode,
                     dtype=mg.float64)
    theirs = torch.nn.Conv2d(4, 6, (3, 2), stride=(1, 2), padding=(1, 1), groups=2, padding_mode=padding_mode,
                             dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    copy_from(ours, theirs)
    compare_module(torch, ours, theirs, RNG.standard_normal((2, 4, 5, 7)), 1e-10, 1e-12)


def test_conv_initialisation_is_pytorchs() -> None:
    """kaiming_uniform with a=√5 and a bias in ±1/√fan_in: both bounds are 1/√(in/groups·k)."""
    mg.manual_seed(0)
    conv = nn.Conv1d(16, 32, 5, groups=2)
    bound = 1 / np.sqrt(8 * 5)
    for p in (conv.weight, conv.bias):
        values = p.numpy()
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
    assert conv.weight.dtype == mg.float32 and conv.weight.shape == (32, 8, 5)
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv1d(6, 4, 3, groups=4)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(6, 4, 3, padding_mode="mirror")


def test_causal_convolution_by_padding_then_slicing(torch) -> None:
    """Conv1d(padding=k-1) then dropping the last k-1 outputs: y[t] reads x[..t] only, as in PyTorch."""
    kernel, dilation = 3, 2
    cut = (kernel - 1) * dilation
    ours = nn.Conv1d(2, 3, kernel, padding=cut, dilation=dilation, dtype=mg.float64)
    theirs = torch.nn.Conv1d(2, 3, kernel, padding=cut, dilation=dilation, dtype=torch.float64)
    copy_from(ours, theirs)
    x = RNG.standard_normal((2, 2, 10))
    xo = mg.tensor(x, requires_grad=True)
    y = ours(xo)[..., :-cut]
    assert_close(y, theirs(torch.from_numpy(x))[..., :-cut], what="causal")
    y[:, :, 4].sum().backward()
    assert np.all(xo.grad.numpy()[:, :, 5:] == 0) and np.any(xo.grad.numpy()[:, :, :5] != 0)
    # the same with explicit left padding
    padded = nn.Sequential(nn.ConstantPad1d((cut, 0), 0.0), nn.Conv1d(2, 3, kernel, dilation=dilation,
                                                                     dtype=mg.float64))
    padded[1].load_state_dict(ours.state_dict())
    assert_close(padded(mg.tensor(x)), theirs(torch.from_numpy(x))[..., :-cut], what="left-padded")


def test_conv1d_on_a_training_size_batch() -> None:
    """(32, 64, 200) through a 64→64 kernel-3 conv and back: the im2col is slices, not an element scatter."""
    x = mg.tensor(RNG.standard_normal((32, 64, 200)).astype(np.float32), requires_grad=True)
    conv = nn.Conv1d(64, 64, 3, padding=1)
    y = conv(x)
    y.sum().backward()
    assert y.shape == (32, 64, 200) and x.grad.shape == x.shape and conv.weight.grad.shape == (64, 64, 3)


# --- pooling ------------------------------------------------------------------------------------------

MAX_POOL_CASES = [
    dict(kernel_size=3),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, dilation=3, padding=1),
    dict(kernel_size=4, stride=3, padding=2, ceil_mode=True),
    dict(kernel_size=5, stride=2, ceil_mode=True),
]


@pytest.mark.parametrize("options", MAX_POOL_CASES)
def test_max_pool1d_values_indices_and_gradients_as_pytorch(torch, options: dict) -> None:
    x = leaf(2, 3, 11)
    check_op(lambda v: F.max_pool1d(v, **options), [x], torch, lambda v: torch.nn.functional.max_pool1d(v, **options))
    values, indices = F.max_pool1d(x, **options, return_indices=True)
    t_values, t_indices = torch.nn.functional.max_pool1d(to_torch(torch, x), **options, return_indices=True)
    assert_close(values, t_values)
    assert indices.dtype == mg.int64
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    module = nn.MaxPool1d(**options, return_indices=True)
    assert repr(module) == repr(torch.nn.MaxPool1d(**options, return_indices=True))
    np.testing.assert_array_equal(module(x)[1].numpy(), t_indices.numpy())


def test_pooling_arguments_by_position_as_pytorch(torch) -> None:
    """torch's max_pool1d/2d and adaptive_max_pool1d show a signature of (*args, **kwargs): their positional
    order, (input, kernel_size, stride, padding, dilation, ceil_mode, return_indices), checked by calling."""
    x = leaf(2, 3, 11)
    for name, args in (("max_pool1d", (3, 2, 1, 1, True, True)), ("max_pool2d", (2, 1, 1, 2, False, True)),
                       ("adaptive_max_pool1d", (4, True))):
        ours, theirs = getattr(F, name)(x, *args), getattr(torch.nn.functional, name)(to_torch(torch, x), *args)
        assert_close(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())


def test_max_pool_ties_send_the_gradient_to_the_first_maximum(torch) -> None:
    x = np.array([[[1.0, 3.0, 3.0, 2.0, 2.0, 0.0]]])
    xo, xt = mg.tensor(x, requires_grad=True), to_torch(torch, x, requires_grad=True)
    F.max_pool1d(xo, 3, 1).sum().backward()
    torch.nn.functional.max_pool1d(xt, 3, 1).sum().backward()
    assert_close(xo.grad, xt.grad)


@pytest.mark.parametrize("options", MAX_POOL_CASES[:5])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool1d_as_pytorch(torch, options: dict, count_include_pad: bool) -> None:
    options = {k: v for k, v in options.items() if k != "dilation"}
    check_op(lambda v: F.avg_pool1d(v, **options, count_include_pad=count_include_pad), [leaf(2, 3, 11)], torch,
             lambda v: torch.nn.functional.avg_pool1d(v, **options, count_include_pad=count_include_pad))
    assert repr(nn.AvgPool1d(**options)) == repr(torch.nn.AvgPool1d(**options))


@pytest.mark.parametrize("options", [dict(kernel_size=3), dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True),
                                     dict(kernel_size=2, dilation=(2, 3), padding=1)])
def test_max_pool2d_as_pytorch(torch, options: dict) -> None:
    x = leaf(2, 2, 7, 8)
    check_op(lambda v: nn.MaxPool2d(**options)(v), [x], torch, lambda v: torch.nn.MaxPool2d(**options)(v))
    np.testing.assert_array_equal(F.max_pool2d(x, **options, return_indices=True)[1].numpy(),
                                  torch.nn.functional.max_pool2d(to_torch(torch, x), **options,
                                                                 return_indices=True)[1].numpy())
    assert repr(nn.MaxPool2d(**options)) == repr(torch.nn.MaxPool2d(**options))


@pytest.mark.parametrize("options", [dict(kernel_size=3), dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True),
                                     dict(kernel_size=2, padding=1, count_include_pad=False),
                                     dict(kernel_size=(2, 3), divisor_override=5)])
def test_avg_pool2d_as_pytorch(torch, options: dict) -> None:
    check_op(lambda v: nn.AvgPool2d(**options)(v), [leaf(2, 2, 7, 8)], torch,
             lambda v: torch.nn.AvgPool2d(**options)(v))


def test_pooling_refuses_what_pytorch_refuses() -> None:
    x = leaf(2, 3, 6)
    with pytest.raises(ValueError, match="at most half of kernel size"):
        F.max_pool1d(x, 3, padding=2)
    with pytest.raises(ValueError, match="at most half of kernel size"):
        F.avg_pool1d(x, 3, padding=2)
    with pytest.raises(ValueError, match="smaller than the kernel|too small"):
        F.max_pool1d(leaf(2, 3, 2), 5)
    with pytest.raises(TypeError, match="must be floating point"):
        F.max_pool1d(mg.tensor(np.arange(6).reshape(1, 1, 6)), 2)


@pytest.mark.parametrize("output_size", [1, 3, 4, 7, 11, 13, None])
def test_adaptive_pools_as_pytorch(torch, output_size: int | None) -> None:
    x = leaf(2, 3, 11)
    size = 11 if output_size is None else output_size
    check_op(lambda v: F.adaptive_avg_pool1d(v, output_size), [x], torch,
             lambda v: torch.nn.functional.adaptive_avg_pool1d(v, size))
    check_op(lambda v: nn.AdaptiveMaxPool1d(output_size)(v), [x], torch,
             lambda v: torch.nn.AdaptiveMaxPool1d(size)(v))
    _, indices = F.adaptive_max_pool1d(x, output_size, return_indices=True)
    np.testing.assert_array_equal(
        indices.numpy(), torch.nn.functional.adaptive_max_pool1d(to_torch(torch, x), size, True)[1].numpy())
    assert repr(nn.AdaptiveAvgPool1d(size)) == repr(torch.nn.AdaptiveAvgPool1d(size))
    unbatched = F.adaptive_avg_pool1d(x[0], output_size)
    assert_close(unbatched, torch.nn.functional.adaptive_avg_pool1d(to_torch(torch, x[0]), size))


@pytest.mark.parametrize("output_size", [1, 3, (2, 4), (None, 2), (5, None), (7, 5), (9, 11)])
@pytest.mark.parametrize("shape", [(2, 3, 7, 5), (3, 6, 6)])
def test_adaptive_pools_2d_as_pytorch(torch, output_size: object, shape: tuple) -> None:
    x = mg.tensor(np.random.default_rng(3).standard_normal(shape), requires_grad=True)
    check_op(lambda v: F.adaptive_avg_pool2d(v, output_size), [x], torch,
             lambda v: torch.nn.functional.adaptive_avg_pool2d(v, output_size))
    check_op(lambda v: nn.AdaptiveMaxPool2d(output_size)(v), [x], torch,
             lambda v: torch.nn.AdaptiveMaxPool2d(output_size)(v))
    # with ties: the same index as torch's (the first largest in row-major order), and the gradient there
    tied = mg.tensor(np.random.default_rng(3).standard_normal(shape).round(0), requires_grad=True)
    values, indices = F.adaptive_max_pool2d(tied, output_size, return_indices=True)
    theirs = to_torch(torch, tied)
    their_values, their_indices = torch.nn.functional.adaptive_max_pool2d(theirs, output_size, True)
    np.testing.assert_array_equal(indices.numpy(), their_indices.numpy())
    values.sum().backward()
    their_values.sum().backward()
    np.testing.assert_array_equal(tied.grad.numpy(), theirs.grad.numpy())
    assert repr(nn.AdaptiveAvgPool2d(output_size)) == repr(torch.nn.AdaptiveAvgPool2d(output_size))


def test_adaptive_pools_2d_refuse_other_ranks_naming_the_function() -> None:
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: .*\(2, 3\)"):
        F.adaptive_avg_pool2d(leaf(2, 3), 1)
    with pytest.raises(ValueError, match="adaptive_max_pool2d: output_size must be non-negative"):
        F.adaptive_max_pool2d(leaf(1, 2, 3), (-1, 1))


# --- padding layers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ConstantPad1d", "ZeroPad1d", "ReflectionPad1d", "ReplicationPad1d",
                                  "CircularPad1d"])
@pytest.mark.parametrize("padding", [2, (1, 3), (0, 2), (-1, 2), (3, -2), (-1, -2)])
@pytest.mark.parametrize("shape", [(2, 3, 6), (3, 6)])
def test_padding_layers_as_pytorch(torch, name: str, padding: object, shape: tuple) -> None:
    args = (padding, 1.5) if name == "ConstantPad1d" else (padding,)
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    check_op(ours, [leaf(*shape)], torch, theirs)


def test_non_constant_padding_needs_2_or_3_dims() -> None:
    with pytest.raises(ValueError, match="2-D \\(C, L\\) or 3-D"):
        nn.ReflectionPad1d(1)(leaf(1, 2, 3, 4))
    with pytest.raises(ValueError, match="must be"):
        nn.ReflectionPad1d(6)(leaf(2, 3, 6))


# --- the same numbers on the GPU (the strict CuPy stand-in without one) --------------------------------

@pytest.mark.gpu
def test_conv_and_pooling_on_the_gpu_match_the_cpu() -> None:
    x = RNG.standard_normal((2, 4, 9)).astype(np.float32)
    w = RNG.standard_normal((6, 2, 3)).astype(np.float32)

    def run(device: str) -> list:
        xo, wo = mg.tensor(x, requires_grad=True, device=device), mg.tensor(w, requires_grad=True, device=device)
        y = F.conv1d(xo, wo, padding=1, groups=2)
        values, indices = F.max_pool1d(y, 3, 2, 1, ceil_mode=True, return_indices=True)
        total = values.sum() + F.avg_pool1d(y, 2).sum() + F.adaptive_max_pool1d(y, 4).sum() \
            + F.adaptive_avg_pool1d(y, 3).sum() + nn.ReflectionPad1d(2)(y).sum()
        total.backward()
        return [values.numpy(), indices.numpy(), xo.grad.numpy(), wo.grad.numpy()]

    for gpu, cpu in zip(run("cuda"), run("cpu")):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-5)


def test_padding_layers_with_negative_amounts_are_pytorchs(torch) -> None:
    """ReflectionPad1d/ReplicationPad1d/CircularPad1d crop and pad in F.pad's order, as PyTorch's modules
    ((-1, 3) on length 4 reflects first, then crops: [1, 2, 3, 2, 1, 0]); where PyTorch returns memory it
    never wrote (a circular crop of everything), minigrad raises."""
    for length in (3, 5):
        x = np.arange(float(length)).reshape(1, 1, length)
        for pad in itertools.product(range(-length + 1, length), repeat=2):
            for name in ("ReflectionPad1d", "ReplicationPad1d", "CircularPad1d"):
                try:
                    want = getattr(torch.nn, name)(pad)(torch.tensor(x)).numpy()
                except RuntimeError:
                    with pytest.raises((ValueError, RuntimeError)):
                        getattr(nn, name)(pad)(mg.tensor(x))
                    continue
                np.testing.assert_array_equal(getattr(nn, name)(pad)(mg.tensor(x)).numpy(), want,
                                              err_msg=f"{name}{pad} on length {length}")
