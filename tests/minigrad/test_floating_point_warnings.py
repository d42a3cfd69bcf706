"""NumPy's floating-point RuntimeWarnings from inside minigrad's ops are not shown, as PyTorch shows none."""

from __future__ import annotations

import warnings

import numpy as np

import minigrad as mg
import nn
from minigrad import backend


def test_ops_and_their_gradients_do_not_warn_about_floating_point_results() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")           # shows everything, as a test or a user might ask...
        backend.hide_floating_point_warnings()    # ...then minigrad's own filter, which import put first
        x = mg.tensor([0.0, -1.0, 1.0], requires_grad=True)
        y = mg.log(x) + mg.sqrt(x) + x / 0 + x.reciprocal() + mg.log1p(-x - 1)
        (y.sum() + mg.tensor([1000.0], dtype=mg.float32).exp().sum()).backward()
        nn.functional.softmax(mg.tensor([[-np.inf, -np.inf]]), dim=1)
        np.log(np.zeros(1))                       # a user's own NumPy call still warns
    assert [str(w.message) for w in caught] == ["divide by zero encountered in log"], [str(w.message) for w in caught]
    assert caught[0].filename == __file__
    assert np.isnan(x.grad.numpy()).any()         # the values are PyTorch's: nothing was hidden but the warning
