"""Regression tests for differences from torch 2.13 found by probing the option matrix of the non-recurrent,
non-attention layers (convolutions, pools, norms, embeddings, padding, shuffles, dropout, up-sampling, fold):
torch's weights copied over, values, input and parameter gradients, dtypes, buffers, reprs and state-dict keys.

Float64 to 1e-10 (float32 to 1e-5), against torch where it is installed (skipped with the reason where not).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

import numpy as np
import pytest
from helpers import assert_close, to_torch

import minigrad as mg
import nn
from nn import functional as F

RNG = np.random.default_rng(2027)


def run_both(torch: Any, make: Callable, x: np.ndarray) -> tuple:
    """The module ``make(lib)`` of each library on the same values: (ours, theirs, our input, their input)."""
    ours, theirs = make(nn), make(torch.nn)
    our_x, their_x = mg.tensor(x, requires_grad=True), to_torch(torch, x, requires_grad=True)
    return ours(our_x), theirs(their_x), our_x, their_x


def assert_same_with_gradients(torch: Any, out: mg.Tensor, t_out: Any, x: mg.Tensor, tx: Any) -> None:
    assert_close(out, t_out, what="forward")
    weights = RNG.standard_normal(out.shape)
    (out * mg.tensor(weights)).sum().backward()
    (t_out * torch.from_numpy(weights)).sum().backward()
    assert_close(x.grad, tx.grad, what="input gradient")


# --- padding layers: negative amounts that crop a whole dim or more ------------------------------------------

@pytest.mark.parametrize("name", ["ReplicationPad2d", "ReplicationPad3d", "ReflectionPad2d", "ReflectionPad3d"])
def test_2d_3d_padding_layers_crop_as_torch_and_refuse_a_negative_size(torch, name: str) -> None:
    """ReplicationPad2d/3d cropped first and then padded what was left, so amounts cropping past the dim gave an
    empty or a wrong-sized result where torch copies input[clamp(j - left)] or refuses a negative size; the
    2-D/3-D reflect and replicate layers also refused an exactly empty result that torch's kernels give."""
    dims = int(name[-2])
    x = RNG.standard_normal((1, 2, 4, 4, 4)[:dims + 2])
    for before, after in itertools.product(range(-5, 3), repeat=2):
        amounts = (before, after) + (1, 0) * (dims - 1)
        try:
            t_out = getattr(torch.nn, name)(amounts)(to_torch(torch, x, requires_grad=True))
        except RuntimeError:
            with pytest.raises(ValueError, match="pad: "):
                getattr(nn, name)(amounts)(mg.tensor(x))
            continue
        out, t_out, our_x, their_x = run_both(torch, lambda lib, amounts=amounts: getattr(lib, name)(amounts), x)
        if t_out.numel() == 0:   # torch's ReflectionPad3d backward leaves such an input gradient unset (garbage)
            assert out.shape == tuple(t_out.shape)
            out.sum().backward()
            assert not our_x.grad.numpy().any()
            continue
        assert_same_with_gradients(torch, out, t_out, our_x, their_x)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_constant_padding_refuses_a_crop_past_the_dim_as_torch(torch, dims: int) -> None:
    """torch crops first and refuses a crop longer than the dim even where a positive amount on the other side
    would make the total size non-negative; F.pad gave a result of that total size."""
    shape = (1, 2, 4, 4, 4)[:dims + 2]
    for amounts in [(-5, 1), (-5, 2), (1, -5), (2, -5)]:
        padding = amounts + (0, 0) * (dims - 1)
        with pytest.raises(RuntimeError):
            getattr(torch.nn, f"ZeroPad{dims}d")(padding)(torch.zeros(shape))
        with pytest.raises(ValueError, match=r"pad: padding \(-?\d, -?\d\) of dim \d would make its size 4 negative"):
            getattr(nn, f"ZeroPad{dims}d")(padding)(mg.zeros(*shape))
        with pytest.raises(ValueError, match="would make its size 4 negative"):
            F.pad(mg.zeros(*shape), padding, value=2.0)
    x = RNG.standard_normal(shape)   # a crop of exactly the dim, padded again: allowed by both
    out, t_out, our_x, their_x = run_both(torch, lambda lib: getattr(lib, f"ConstantPad{dims}d")(
        (-4, 2) + (1, -1) * (dims - 1), 1.5), x)
    assert_same_with_gradients(torch, out, t_out, our_x, their_x)


@pytest.mark.parametrize("amounts", [(-4, 1), (-3, 2), (2, -3), (-5, 2)])
def test_circular_padding_that_wraps_a_crop_refuses_where_torch_reads_unset_memory(torch, amounts: tuple) -> None:
    """torch 2.13 pads a cropped dim from the output it is writing (uninitialised values or an overlap error);
    minigrad refuses with the sizes named."""
    with pytest.raises(ValueError, match="pad: circular padding"):
        nn.CircularPad2d(amounts + (0, 0))(mg.zeros(1, 2, 4, 4))


# --- Unflatten keeps a list as given ----------------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [[2, 3], (2, 3), [-1, 3]])
def test_unflatten_repr_keeps_the_sizes_as_given(torch, sizes: Any) -> None:
    ours, theirs = nn.Unflatten(1, sizes), torch.nn.Unflatten(1, sizes)
    assert repr(ours) == repr(theirs)   # a list showed as a tuple
    x = RNG.standard_normal((4, 6, 2))
    out, t_out, our_x, their_x = run_both(torch, lambda lib: lib.Unflatten(1, sizes), x)
    assert_same_with_gradients(torch, out, t_out, our_x, their_x)


# --- empty batches ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (0, 3)), ("BatchNorm1d", (1, 3, 0)),
                                         ("BatchNorm2d", (0, 3, 2, 2)), ("BatchNorm3d", (0, 3, 1, 2, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_trains_on_an_empty_batch_as_torch(torch, name: str, shape: tuple, momentum: Any) -> None:
    """torch normalises nothing, keeps the running estimates and counts the batch; minigrad refused (as for one
    value per channel, which both still refuse)."""
    ours, theirs = getattr(nn, name)(3, momentum=momentum).double(), getattr(torch.nn, name)(3, momentum=momentum)
    theirs = theirs.double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.zeros(shape)
    out, t_out = ours(mg.tensor(x, requires_grad=True)), theirs(to_torch(torch, x, requires_grad=True))
    assert out.shape == tuple(t_out.shape)
    out.sum().backward()
    t_out.sum().backward()
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value, what=key)
    assert_close(ours.weight.grad, theirs.weight.grad)
    assert_close(ours.bias.grad, theirs.bias.grad)
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        getattr(nn, name)(3)(mg.zeros(*((1, 3) + (1,) * (len(shape) - 2))))


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_adaptive_max_pool_and_max_unpool_take_an_empty_batch_as_torch(torch, dims: int) -> None:
    """AdaptiveMaxPool2d/3d and MaxUnpool*d reshaped an empty batch with -1 (a NumPy error)."""
    shape = (0, 3) + (4,) * dims
    values, indices = getattr(nn, f"AdaptiveMaxPool{dims}d")(2, return_indices=True)(mg.zeros(*shape))
    t_values, t_indices = getattr(torch.nn, f"AdaptiveMaxPool{dims}d")(2, return_indices=True)(torch.zeros(shape))
    assert values.shape == tuple(t_values.shape) and indices.shape == tuple(t_indices.shape)
    pooled, where = getattr(nn, f"MaxPool{dims}d")(2, return_indices=True)(mg.zeros(*shape))
    t_pooled, t_where = getattr(torch.nn, f"MaxPool{dims}d")(2, return_indices=True)(torch.zeros(shape))
    assert getattr(nn, f"MaxUnpool{dims}d")(2)(pooled, where).shape == \
        tuple(getattr(torch.nn, f"MaxUnpool{dims}d")(2)(t_pooled, t_where).shape)


# --- norm layers load a state dict without num_batches_tracked, as torch's version-1 rule ------------------------

@pytest.mark.parametrize("make, shape", [(lambda lib: lib.BatchNorm1d(3), (4, 3, 2)),
                                         (lambda lib: lib.BatchNorm2d(3, momentum=None), (4, 3, 2, 2)),
                                         (lambda lib: lib.InstanceNorm1d(3, track_running_stats=True), (4, 3, 2))])
def test_norms_load_a_plain_state_dict_without_the_batch_count_as_torch(torch, make: Callable, shape: tuple) -> None:
    """torch's _NormBase (version 2) lets an unversioned state dict (a plain dict: converted weights, old
    checkpoints) lack num_batches_tracked and keeps the module's own count; minigrad called the key missing."""
    theirs = make(torch.nn)
    theirs.train()(torch.randn(*shape))
    plain = {key: value.numpy() for key, value in theirs.state_dict().items() if key != "num_batches_tracked"}
    ours = make(nn)
    ours.num_batches_tracked.fill_(7)
    fresh = make(torch.nn)
    fresh.num_batches_tracked.fill_(7)
    assert tuple(ours.load_state_dict(plain)) == tuple(fresh.load_state_dict(
        {key: torch.from_numpy(value) for key, value in plain.items()})) == ([], [])
    for key, value in fresh.state_dict().items():
        assert_close(ours.state_dict()[key], value, what=key)
    assert ours.state_dict()._metadata[""]["version"] == theirs.state_dict()._metadata[""]["version"] == 2
    versioned = ours.state_dict()   # version 2 says the count must be there, as torch's
    del versioned["num_batches_tracked"]
    with pytest.raises(RuntimeError, match="missing key: num_batches_tracked"):
        ours.load_state_dict(versioned)


def test_batch_and_instance_norm_refuse_one_running_statistic_alone(torch) -> None:
    """F.batch_norm ignored a running_mean given without running_var (and instance_norm updated it alone);
    torch refuses both."""
    x = mg.tensor(RNG.standard_normal((4, 3, 5)))
    for function, t_function, options in ((F.batch_norm, torch.nn.functional.batch_norm, {"training": True}),
                                          (F.instance_norm, torch.nn.functional.instance_norm, {})):
        for running_mean, running_var in ((mg.zeros(3), None), (None, mg.ones(3))):
            theirs = [None if value is None else to_torch(torch, value) for value in (running_mean, running_var)]
            with pytest.raises((RuntimeError, ValueError, TypeError)):   # its wording varies with the case
                t_function(to_torch(torch, x), *theirs, **options)
            with pytest.raises(ValueError, match="running_mean and running_var must either both be None or neither"):
                function(x, running_mean, running_var, **options)
            assert running_mean is None or not running_mean.numpy().any()


# --- the same paths on the GPU (or the strict CuPy stand-in) ------------------------------------------------------

@pytest.mark.gpu
def test_the_changed_paths_on_the_gpu_match_the_cpu() -> None:
    x = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)

    def run(device: str) -> list:
        inputs = mg.tensor(x, requires_grad=True, device=device)
        total = nn.ReplicationPad2d((-5, 2, 1, -1))(inputs).sum() + nn.ReflectionPad2d((-2, -2, 1, 0))(inputs).sum() \
            + nn.ZeroPad2d((-4, 2, 0, 0))(inputs).sum()
        total.backward()
        norm = nn.BatchNorm2d(3).to(device)
        empty = norm(mg.zeros(0, 3, 2, 2, device=device))
        pooled, indices = F.adaptive_max_pool2d(mg.zeros(0, 3, 4, 4, device=device), 2, return_indices=True)
        integers = mg.tensor((x * 10).astype(np.int64), device=device)
        int_values, int_indices = F.max_pool2d(integers, 3, 2, 1, ceil_mode=True, return_indices=True)
        return [inputs.grad.numpy(), np.array(empty.shape), norm.num_batches_tracked.numpy(),
                np.array(pooled.shape + indices.shape), int_values.numpy(), int_indices.numpy()]

    for gpu, cpu in zip(run("cuda"), run("cpu")):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-5)


# --- integer max pooling (torch's 2-D and 3-D CPU kernels) ---------------------------------------------------------

@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8])
def test_max_pool_2d_3d_takes_integers_as_torch(torch, dims: int, dtype: Any) -> None:
    """max_pool2d/3d refused integer tensors, which torch pools (values, dtypes and indices; an entry equal to the
    dtype's minimum next to the padding keeps its own index)."""
    info = np.iinfo(dtype)
    for kernel, stride, padding, dilation, ceil_mode in [(2, 1, 1, 1, False), (3, 2, 1, 2, True), (3, 3, 1, 1, True),
                                                         (2, 2, 0, 1, True)]:
        x = RNG.integers(info.min, int(info.max) + 1, (2, 3) + (5,) * dims).astype(dtype)
        x.reshape(-1)[::3] = info.min
        t_values, t_indices = getattr(torch.nn, f"MaxPool{dims}d")(kernel, stride, padding, dilation, True, ceil_mode)(
            torch.from_numpy(x))
        values, indices = getattr(nn, f"MaxPool{dims}d")(kernel, stride, padding, dilation, True, ceil_mode)(
            mg.tensor(x))
        assert values.dtype == np.dtype(dtype) and indices.dtype == np.int64
        np.testing.assert_array_equal(values.numpy(), t_values.numpy())
        np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    unbatched = getattr(nn, f"MaxPool{dims}d")(2)(mg.tensor(x[0]))
    np.testing.assert_array_equal(unbatched.numpy(), getattr(torch.nn, f"MaxPool{dims}d")(2)(torch.from_numpy(x[0])))


def test_max_pool_1d_and_average_pools_still_refuse_integers_as_torch(torch) -> None:
    with pytest.raises(RuntimeError):
        torch.nn.functional.max_pool1d(torch.zeros(1, 2, 4, dtype=torch.int64), 2)
    with pytest.raises(TypeError, match="max_pool1d: input must be floating point, got int64"):
        F.max_pool1d(mg.zeros(1, 2, 4, dtype=mg.int64), 2)
    with pytest.raises(TypeError, match="avg_pool2d: input must be floating point, got int32"):
        F.avg_pool2d(mg.zeros(1, 2, 4, 4, dtype=mg.int32), 2)   # (int64 is taken, as torch's CPU kernel)
