"""Adaptive average pools of complex inputs against PyTorch 2.13 (round 25 complex fuzz): PyTorch's pools to
all-1 output sizes are ``input.mean`` over the pooled dims, for complex inputs too."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

POOLS = {   # (function name, input shape, output_size)
    "1d": ("adaptive_avg_pool1d", (2, 3, 4), 1), "1d_unbatched": ("adaptive_avg_pool1d", (3, 4), (1,)),
    "2d": ("adaptive_avg_pool2d", (2, 3, 4, 5), 1), "2d_none": ("adaptive_avg_pool2d", (3, 4, 1), (1, None)),
    "2d_plane": ("adaptive_avg_pool2d", (4, 5), 1), "2d_plane_listed": ("adaptive_avg_pool2d", (4, 5), (1, 1)),
    "2d_channels_last": ("adaptive_avg_pool2d", (2, 3, 4, 5), 1),
    "3d": ("adaptive_avg_pool3d", (1, 2, 3, 2, 2), 1), "3d_no_channels": ("adaptive_avg_pool3d", (2, 0, 3, 2, 2), 1),
    "2d_to_2": ("adaptive_avg_pool2d", (2, 3, 4, 4), 2), "1d_to_2": ("adaptive_avg_pool1d", (2, 3, 4), 2),
    "3d_none_over_2": ("adaptive_avg_pool3d", (1, 2, 3, 2, 2), (1, None, 1)),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_adaptive_average_pools_of_complex_inputs_to_ones(name):
    # PyTorch's adaptive average pools to all-1 sizes are input.mean over the pooled dims, complex inputs too
    # (global average pooling in complex networks); they raised ComplexInputError here. Other sizes refuse in both.
    torch = pytest.importorskip("torch")
    fn, shape, size = POOLS[name]
    array = np.random.default_rng(4).standard_normal(shape + (2,)).view(complex)[..., 0]
    results = []
    for lib, functional in ((mg, mg.nn.functional), (torch, torch.nn.functional)):
        x = lib.tensor(array, requires_grad=True)
        source = x.to(memory_format=lib.channels_last) if name == "2d_channels_last" else x
        try:
            out = getattr(functional, fn)(source, size)
        except (NotImplementedError, RuntimeError, ValueError):
            results.append(None)
            continue
        (out * lib.tensor(np.full(tuple(out.shape), 0.5 - 2j))).real.sum().backward()
        steps = tuple(step for step, size in zip(out.stride(), out.shape) if size > 1)   # (size-1 dims: any step)
        results.append((out.detach().numpy(), steps, x.grad.numpy()))
    if results[1] is None:
        assert results[0] is None
        return
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    assert results[0][1] == results[1][1]
    np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-12)
