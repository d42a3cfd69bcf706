"""GPU paths the strict CuPy stand-in could not reach before round 15: a device tensor's memory address and
storage (CuPy's ``.data.ptr`` and ``.base``), and the draws that need CuPy's ``RandomState`` API (Poisson,
binomial, gamma, an explicit ``mg.Generator`` on a GPU). On a real GPU they run against CuPy itself."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

pytestmark = pytest.mark.gpu


def test_views_of_a_device_tensor_share_its_storage_as_on_the_cpu() -> None:
    host = mg.arange(12.0).view(3, 4)
    device = host.to("cuda")
    for view in (lambda t: t[1:], lambda t: t[1:, 2:], lambda t: t.t(), lambda t: t[2:][0]):
        a, b = view(host), view(device)
        assert b.storage_offset() == a.storage_offset()
        assert b.stride() == a.stride()
        assert b.data_ptr() - device.data_ptr() == a.data_ptr() - host.data_ptr()
        assert b.untyped_storage().data_ptr() == device.untyped_storage().data_ptr()
    copy = device.clone()
    assert copy.untyped_storage().data_ptr() != device.untyped_storage().data_ptr()


def test_an_in_place_change_through_a_device_view_reaches_the_base_and_its_gradient() -> None:
    w = mg.ones(6, device="cuda", requires_grad=True)
    y = w * 1.0
    part = y[2:4]
    part.mul_(5.0)
    y.sum().backward()
    np.testing.assert_array_equal(y.detach().cpu().numpy(), [1, 1, 5, 5, 1, 1])
    np.testing.assert_array_equal(w.grad.cpu().numpy(), [1, 1, 5, 5, 1, 1])


@pytest.mark.parametrize("draw", [
    lambda: mg.poisson(mg.full((2000,), 4.0, device="cuda")),
    lambda: mg.binomial(mg.full((2000,), 10.0, device="cuda"), mg.full((2000,), 0.4, device="cuda")),
    lambda: mg.distributions.Gamma(mg.full((2000,), 4.0, device="cuda"), mg.ones(2000, device="cuda")).sample(),
], ids=["poisson", "binomial", "gamma"])
def test_counting_and_gamma_draws_run_on_the_device_with_the_right_mean(draw) -> None:
    mg.manual_seed(0)
    sample = draw()
    assert sample.device.type == "cuda" and sample.dtype == mg.float32 and sample.shape == (2000,)
    assert abs(sample.mean().item() - 4.0) < 0.25   # each mean is 4; the standard error is below 0.05


def test_a_generator_on_the_device_repeats_its_stream_after_manual_seed() -> None:
    g = mg.Generator("cuda")
    first = mg.rand(5, device="cuda", generator=g.manual_seed(7)).cpu().numpy()
    again = mg.rand(5, device="cuda", generator=g.manual_seed(7)).cpu().numpy()
    other = mg.rand(5, device="cuda", generator=mg.Generator("cuda").manual_seed(8)).cpu().numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_histc_reads_back_only_its_range() -> None:
    """A boolean mask index makes CuPy read the selected count back to the host; histc drops the points outside
    its range with a where instead, so it reads nothing back but the data's min and max when no range is given."""
    from minigrad import backend  # noqa: PLC0415

    cupy = backend._cupy
    if not getattr(cupy, "is_strict_stand_in", False):
        pytest.skip("a real GPU: the stand-in counts the reads")
    x = mg.tensor(np.array([0.5, -2.0, np.nan, 3.0, np.inf, 1.0]), device="cuda")
    before = cupy.copies["to_host"]
    counts = mg.histc(x, bins=4, min=-1.0, max=2.0)
    assert cupy.copies["to_host"] == before
    np.testing.assert_array_equal(counts.cpu().numpy(), [0, 0, 2, 0])   # as torch.histc
    before = cupy.copies["to_host"]
    mg.histc(x[:2], bins=4)   # its range is found twice: for the errors now, and in the recorded op
    assert cupy.copies["to_host"] == before + 2
