"""GPU paths after round 16's changes, on the strict CuPy stand-in (or a real GPU): the same values as the CPU,
and no host round trip a GPU does not need. A NumPy scalar constant an op takes (a float32 ``masked_fill``
value, the zeros and fills of the double-backward rules) is filled on the device instead of copied there; the
polygamma family and a complex ``pow`` by a tensor no longer read a mask back to choose a branch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import nn
from minigrad import backend

pytestmark = pytest.mark.gpu


def _stand_in() -> object:
    cupy = backend._cupy
    if not getattr(cupy, "is_strict_stand_in", False):
        pytest.skip("a real GPU: the stand-in counts the copies")
    return cupy


def _on_both(values: list, compute: object, requires_grad: bool = False) -> tuple:
    """``compute(x)`` of ``x = mg.tensor(values)`` on the CPU and on the GPU, with the GPU call's host<->device
    copies (after x is made)."""
    cupy = _stand_in()
    host = compute(mg.tensor(values, requires_grad=requires_grad))
    x = mg.tensor(values, device="cuda", requires_grad=requires_grad)
    cupy.reset_copies()
    device = compute(x)
    return host, device, dict(cupy.copies)


def _same(host: list, device: list) -> None:
    for a, b in zip(host, device, strict=True):
        assert b.device.type == "cuda" and a.dtype == b.dtype
        np.testing.assert_array_equal(b.detach().cpu().numpy(), a.detach().numpy())


def test_a_float32_masked_fill_value_is_filled_on_the_device_not_copied() -> None:
    def compute(x: mg.Tensor) -> list:
        mask = x > 2.0
        return [x.masked_fill(mask, float("-inf")), x.half().masked_fill(mask, 1.5)]

    host, device, copies = _on_both([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], compute)
    _same(host, device)
    assert copies == {"to_host": 0, "to_device": 0}


@pytest.mark.parametrize("fn", [mg.sinc, nn.functional.elu, nn.functional.hardswish, mg.logit],
                         ids=["sinc", "elu", "hardswish", "logit"])
def test_float32_double_backward_rules_make_no_copies(fn: object) -> None:
    def compute(x: mg.Tensor) -> list:
        (g,) = mg.autograd.grad(fn(x).sum(), x, create_graph=True)
        (g2,) = mg.autograd.grad(g.sum(), x)
        return [g, g2]

    host, device, copies = _on_both([0.0, 0.25, -0.5, 0.75, 1e-4], compute, requires_grad=True)
    _same(host, device)
    assert copies == {"to_host": 0, "to_device": 0}


def test_digamma_and_lgamma_gradients_read_nothing_back() -> None:
    """polygamma's branch for -1e-3 < x < 0 is taken by a where on the GPU (its mask was read to the host on
    every digamma backward and every second derivative of lgamma)."""
    values = [-1e-4, -2.5, -1.0, 0.0, 3.0, float("inf")]

    def compute(x: mg.Tensor) -> list:
        (g,) = mg.autograd.grad(mg.lgamma(x).sum(), x, create_graph=True)
        (g2,) = mg.autograd.grad(g.sum(), x)
        return [mg.digamma(x), mg.polygamma(2, x), g, g2]

    host, device, copies = _on_both(values, compute, requires_grad=True)
    _same(host, device)
    assert copies == {"to_host": 0, "to_device": 0}


def test_complex_pow_by_a_tensor_reads_nothing_back() -> None:
    def compute(x: mg.Tensor) -> list:
        a, b = x
        return [a ** b, a[2:] ** b[2:]]

    host, device, copies = _on_both([[0j, complex("inf"), 1j, 2 + 1j], [0j, 0j, 2 + 0j, 0.5j]], compute)
    _same(host, device)
    assert copies == {"to_host": 0, "to_device": 0}


def test_module_apply_moves_a_buffer_the_forward_reads() -> None:
    """Module._apply replaced a buffer in _buffers only: BatchNorm's forward read the old running_mean attribute
    (still on the CPU after _apply(lambda t: t.to('cuda')), stale after any fn), as torch's never does."""
    x = np.array([[1.0, 2.0], [3.0, 5.0]], dtype=np.float32)
    norm = nn.BatchNorm1d(2).eval()
    norm._apply(lambda t: t + 1)   # mean 1, var 2, weight 2, bias 1 (torch gives the same)
    expected = (x - 1) / np.sqrt(np.float32(2 + 1e-5)) * 2 + 1
    np.testing.assert_allclose(norm(mg.tensor(x)).detach().numpy(), expected, rtol=1e-6)
    norm._apply(lambda t: t.to("cuda"))
    assert norm.running_mean is norm._buffers["running_mean"] and norm.running_var.device.type == "cuda"
    np.testing.assert_allclose(norm(mg.tensor(x, device="cuda")).cpu().numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("call", [
    lambda x: mg.addcmul(x, 2, x), lambda x: x.addcmul(0, x), lambda x: mg.addcdiv(x, x, 2.0),
    lambda x: x.addcmul_(x, 2),
], ids=["addcmul", "method", "addcdiv", "in_place"])
def test_addcmul_and_addcdiv_take_tensors_only(call: object) -> None:
    """torch's TypeError ("argument 'tensor1' (position 2) must be Tensor, not int"): a number there was a float64
    tensor here, so a float32 addcmul gave float64 (an extra host-to-device copy on the GPU)."""
    x = mg.ones(3, device="cuda")
    with pytest.raises(TypeError, match="must be Tensor"):
        call(x)
    assert mg.addcmul(x, x, x, value=2).dtype == mg.float32


def test_a_reduction_output_changed_in_place_is_refused_at_backward_as_on_the_cpu() -> None:
    """median()/norm() of all elements return a view of their saved result: mul_ on it is recorded and the backward
    refuses, as PyTorch's (the stand-in's .base is one object held by the view, as CuPy's: a new wrapper on every
    read let median's backward give zeros silently, and norm's mul_ was refused)."""
    _stand_in()
    for reduce in (lambda t: t.median(), lambda t: t.norm()):
        x = mg.tensor([1.0, 2.0, 3.0, 4.0], device="cuda", requires_grad=True)
        y = reduce(x * 1)
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified"):
            y.backward()
