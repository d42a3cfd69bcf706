"""The last of PyTorch's names minigrad lacked (round 17), each against torch 2.13: ``Tensor.chalf``, the autocast
switches (``set_autocast_enabled``, ``set_autocast_dtype``, ``get_autocast_dtype``), ``nn.CrossMapLRN2d``,
``nn.grad``'s convolution gradients and the lazy modules' placeholders (``nn.parameter.UninitializedParameter``,
``UninitializedBuffer``).
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")

RNG = np.random.default_rng(17)


# --- Tensor.chalf ----------------------------------------------------------------------------------------------

def test_chalf_refuses_as_numpy_has_no_complex32() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch: ComplexHalf support is experimental
        assert torch.ones(2).chalf().dtype == torch.complex32
    with pytest.raises(TypeError, match=r"Tensor.chalf: .*no complex32 .*float32 tensor of shape \(2,\).*cfloat"):
        mg.ones(2).chalf()
    with pytest.raises(TypeError, match="complex32"):
        mg.ones(2).chalf(memory_format=mg.preserve_format)


# --- the autocast switches ---------------------------------------------------------------------------------------

def _autocast_story(lib: Any) -> list:
    """What torch's autocast switches read back through a sequence of sets and blocks (restored at the end)."""
    seen = [lib.get_autocast_dtype("cpu"), lib.get_autocast_dtype("cuda"), lib.get_autocast_dtype("cuda:0")]
    lib.set_autocast_dtype("cpu", lib.float16)
    seen.append(lib.get_autocast_dtype("cpu"))
    with lib.autocast("cpu") as block:   # takes the set dtype
        seen += [block.fast_dtype, lib.is_autocast_enabled("cpu")]
        with lib.autocast("cpu", dtype=lib.bfloat16, enabled=False):
            seen += [lib.get_autocast_dtype("cpu"), lib.is_autocast_enabled("cpu")]
        seen += [lib.get_autocast_dtype("cpu"), lib.is_autocast_enabled("cpu")]
    lib.set_autocast_enabled("cpu", True)
    seen.append(lib.is_autocast_enabled("cpu"))
    lib.set_autocast_enabled("cpu", False)
    lib.set_autocast_enabled(True)   # the older form: cuda
    seen += [lib.is_autocast_enabled(), lib.is_autocast_enabled("cuda"), lib.is_autocast_enabled("cpu")]
    lib.set_autocast_enabled(False)
    lib.set_autocast_dtype("cpu", lib.bfloat16)
    seen.append(lib.get_autocast_dtype("cpu"))
    return [getattr(value, "__name__", str(value)).replace("torch.", "") for value in seen]   # (mg.bfloat16: a class)


def test_autocast_switches_read_back_as_torchs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # minigrad's: autocast changes no dtype
        ours = _autocast_story(mg)
    assert ours == _autocast_story(torch)
    assert mg.get_autocast_dtype("cpu") is mg.bfloat16 and mg.get_autocast_dtype("cuda") == mg.float16


def test_autocast_switches_refuse_as_torch() -> None:
    for lib in (torch, mg):
        with pytest.raises(TypeError, match="enabled"):
            lib.set_autocast_enabled("cpu", 1)
        with pytest.raises(RuntimeError):
            lib.get_autocast_dtype("foo")
        with pytest.raises(RuntimeError):
            lib.set_autocast_enabled("foo", True)
        with pytest.raises(TypeError):
            lib.get_autocast_dtype()
    with pytest.warns(UserWarning, match="target dtype is not supported. Disabling autocast"):   # as torch's
        with mg.autocast("cpu", dtype=mg.float64):
            assert not mg.is_autocast_enabled("cpu") and mg.get_autocast_dtype("cpu") == mg.float64
    assert mg.get_autocast_dtype("cpu") is mg.bfloat16


def test_autocast_switches_are_per_thread() -> None:
    seen = []
    mg.set_autocast_dtype("cuda", mg.float32)
    try:
        thread = threading.Thread(target=lambda: seen.append(mg.get_autocast_dtype("cuda")))
        thread.start()
        thread.join()
        assert seen == [mg.float16] and mg.get_autocast_dtype("cuda") == mg.float32
    finally:
        mg.set_autocast_dtype("cuda", mg.float16)


# --- nn.CrossMapLRN2d ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [2, 3, 4, 5])
def test_cross_map_lrn2d_values_and_gradients_are_torchs(size: int) -> None:
    """PyTorch's legacy forward (channel 0 in every channel's sum) and its own backward, quirks included."""
    x, grad = RNG.standard_normal((2, 6, 3, 2)), RNG.standard_normal((2, 6, 3, 2))
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs = torch.nn.CrossMapLRN2d(size, alpha=0.7, beta=0.6, k=1.3)(theirs_x)
    theirs.backward(torch.tensor(grad))
    ours_x = mg.tensor(x, requires_grad=True)
    ours = nn.CrossMapLRN2d(size, alpha=0.7, beta=0.6, k=1.3)(ours_x)
    ours.backward(mg.tensor(grad))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert not np.allclose(ours.detach().numpy(), torch.nn.LocalResponseNorm(size, 0.7, 0.6, 1.3)(
        torch.tensor(x)).numpy())   # not the usual LRN: PyTorch's running sum keeps channel 0


def test_cross_map_lrn2d_module_surface_as_torchs() -> None:
    module, theirs = nn.CrossMapLRN2d(3), torch.nn.CrossMapLRN2d(3)
    assert repr(module) == repr(theirs) and nn.modules.normalization.CrossMapLRN2d is nn.CrossMapLRN2d
    x = RNG.standard_normal((1, 4, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(module(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-6)
    for lib, layer in ((torch, theirs), (mg, module)):
        with pytest.raises(ValueError, match="Expected input to be 4D, got 3D instead"):
            layer(lib.ones(4, 2, 2))
    for lib, layer in ((torch, torch.nn.CrossMapLRN2d(1)), (mg, nn.CrossMapLRN2d(1))):   # size 1: no backward
        x1 = lib.ones(1, 3, 2, 2, requires_grad=True)
        with pytest.raises(RuntimeError, match="exceeds dimension size"):
            layer(x1).sum().backward()


# --- nn.grad -------------------------------------------------------------------------------------------------------

CONVS = {1: ("conv1d", (2, 4, 9), (6, 2, 3)), 2: ("conv2d", (2, 4, 7, 6), (6, 2, 3, 2)),
         3: ("conv3d", (1, 4, 5, 4, 5), (6, 2, 2, 3, 2))}


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("options", [{}, {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}])
def test_conv_input_and_weight_gradients_are_torchs(dims: int, options: dict) -> None:
    name, input_shape, weight_shape = CONVS[dims]
    options = {**options, "groups": options.get("groups", 2)}
    x, w = RNG.standard_normal(input_shape), RNG.standard_normal(weight_shape)
    grad = RNG.standard_normal(getattr(torch.nn.functional, name)(torch.tensor(x), torch.tensor(w), **options).shape)
    expected = getattr(torch.nn.grad, f"{name}_input")(input_shape, torch.tensor(w), torch.tensor(grad), **options)
    got = getattr(nn.grad, f"{name}_input")(input_shape, mg.tensor(w), mg.tensor(grad), **options)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
    expected = getattr(torch.nn.grad, f"{name}_weight")(torch.tensor(x), weight_shape, torch.tensor(grad), **options)
    got = getattr(nn.grad, f"{name}_weight")(mg.tensor(x), weight_shape, mg.tensor(grad), **options)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
    assert not got.requires_grad and got.shape == weight_shape


def test_conv_input_size_picks_among_the_lengths_a_stride_allows() -> None:
    """conv2d of 7x7 and 8x8 inputs with stride 2 both give 3x3: input_size says which, as PyTorch's."""
    w, grad = RNG.standard_normal((1, 1, 3, 3)), RNG.standard_normal((1, 1, 3, 3))
    for size in ((1, 1, 7, 7), (1, 1, 8, 8)):
        expected = torch.nn.grad.conv2d_input(size, torch.tensor(w), torch.tensor(grad), stride=2)
        got = nn.functional.grad.conv2d_input(mg.Size(size), mg.tensor(w), mg.tensor(grad), stride=2)
        assert got.shape == size
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"conv2d_input: grad_output has shape \(1, 1, 3, 3\).*gives \(1, 1, 4, 4\)"):
        nn.grad.conv2d_input((1, 1, 9, 9), mg.tensor(w), mg.tensor(grad), stride=2)


def test_conv_gradients_differentiate_again_as_torchs() -> None:
    """A weight that requires grad: the input gradient is part of a graph (a double backward), as PyTorch's."""
    w, grad = RNG.standard_normal((2, 1, 3)), RNG.standard_normal((1, 2, 4))
    results = []
    for lib, module in ((torch, torch.nn.grad), (mg, nn.grad)):
        weight = lib.tensor(w, requires_grad=True)
        gradient = module.conv1d_input((1, 1, 6), weight, lib.tensor(grad))
        (gradient ** 2).sum().backward()
        results.append((gradient.detach().numpy(), weight.grad.numpy()))
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


# --- nn.parameter.UninitializedParameter / UninitializedBuffer -----------------------------------------------------

def _placeholder_story(lib: Any, parameter_module: Any) -> list:
    """What torch's placeholders answer, before and after materialize (errors by class)."""
    seen: list = []

    def attempt(call: Any) -> None:
        try:
            seen.append(call())
        except (RuntimeError, ValueError) as error:
            seen.append(type(error).__name__)

    p = parameter_module.UninitializedParameter(dtype=lib.float64)
    b = parameter_module.UninitializedBuffer(persistent=False)
    for value in (p, b):
        seen += [repr(value), parameter_module.is_lazy(value), str(value.dtype).replace("torch.", ""),
                 value.requires_grad, isinstance(value, lib.nn.Parameter), isinstance(value, lib.nn.Buffer)]
        attempt(lambda value=value: value.shape)
        attempt(lambda value=value: value.numel())
        attempt(lambda value=value: len(value))
    seen.append(b.persistent)
    p.materialize((2, 3))
    b.materialize((4,))
    seen += [type(p).__name__, tuple(p.shape), p.requires_grad, type(b).__name__, tuple(b.shape),
             parameter_module.is_lazy(p)]
    return seen


def test_uninitialized_parameter_and_buffer_as_torchs() -> None:
    assert _placeholder_story(mg, nn.parameter) == _placeholder_story(torch, torch.nn.parameter)
    assert nn.UninitializedParameter is nn.parameter.UninitializedParameter and nn.UninitializedBuffer


@pytest.mark.parametrize("name", ["LazyLinear", "LazyConv2d", "LazyBatchNorm1d"])
def test_lazy_modules_hold_placeholders_until_their_first_input_as_torchs(name: str) -> None:
    args = (4, 3) if name == "LazyConv2d" else (4,) if name == "LazyLinear" else ()
    shape = {"LazyLinear": (2, 5), "LazyConv2d": (1, 3, 5, 5), "LazyBatchNorm1d": (2, 3)}[name]
    ours, theirs = getattr(nn, name)(*args).double(), getattr(torch.nn, name)(*args).double()
    describe = [lambda m: list(m.state_dict()),   # (its values: torch's are the placeholders, ours empty copies)
                lambda m: [(type(t).__name__, str(t.dtype).replace("torch.", "")) for t in m.parameters()],
                lambda m: [(type(t).__name__, str(t.dtype).replace("torch.", "")) for t in m.buffers()]]
    for view in describe:
        assert view(ours) == view(theirs)
    before = list(ours.parameters())
    ours(mg.ones(*shape, dtype=mg.float64))
    theirs(torch.ones(*shape, dtype=torch.float64))
    for view in describe:
        assert view(ours) == view(theirs)
    assert list(ours.parameters()) == before   # the same objects, now shaped
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        _ = getattr(nn, name)(*args).weight.shape
