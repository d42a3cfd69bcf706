"""gradgradcheck of a complex function with a 0-d output: its random output gradient is an array, as PyTorch's."""

import numpy
import pytest

import minigrad as mg


def _inputs(module):
    rng = numpy.random.default_rng(1)
    a = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    b = rng.standard_normal((3, 2)) + 0j
    return module.tensor(a, requires_grad=True), module.tensor(b, requires_grad=True)


def _function(a, b):
    return a.sin() * b, a.sum()   # the second output is 0-d and complex


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradgradcheck_complex_scalar_output_matches_torch(fast_mode):
    torch = pytest.importorskip("torch")
    assert torch.autograd.gradgradcheck(_function, _inputs(torch), fast_mode=fast_mode)
    assert mg.autograd.gradgradcheck(_function, _inputs(mg), fast_mode=fast_mode)

