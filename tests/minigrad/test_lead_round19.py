"""Round 19 (lead): the device sweep's finds on the strict CuPy stand-in after this round's changes."""
import numpy as np
import pytest

import minigrad as mg


@pytest.mark.gpu
@pytest.mark.parametrize("shape", [(2, 0, 1), (2, 1, 0), (0, 3)])
def test_logcumsumexp_of_an_empty_broadcast_input_on_every_device(shape: tuple) -> None:
    """The -0.0 rule wrote into the scan's result in place; on CuPy an empty broadcast input's scan is read-only."""
    for device in ("cpu", "cuda"):
        x = mg.zeros(*shape[1:], device=device).broadcast_to(*shape)
        y = mg.logcumsumexp(x, -1)
        assert y.shape == shape and y.device.type == device
        np.testing.assert_array_equal(y.cpu().numpy(), np.zeros(shape))
