"""PyTorch's scatter_reduce (and scatter's older reduce=), as_strided, the strided layout, the conjugate
transposes H/mH/adjoint and is_inference_mode_enabled, against PyTorch.

As in ``test_pytorch_api_more.py``: each case is ``fn(lib, *tensors)`` in PyTorch's spelling, run with
``lib = minigrad`` and ``lib = torch``; values, dtypes and input gradients must agree (ties and zeros
included: amax/amin share the gradient among ties, prod handles zeros), and every case without a tie
passes ``mg.gradcheck``. The same cases run on the GPU (or the strict CuPy stand-in).
"""

from __future__ import annotations

import pickle
import threading
import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests, gpu_case_tests

import minigrad as mg

# PyTorch deprecates mH/adjoint of a 0-d tensor (the tensor itself, as here)
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated on 0-D tensors:UserWarning")

RNG = np.random.default_rng(11)
X34, S35, S34 = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 5)), RNG.standard_normal((3, 4))
IDX1 = np.array([[0, 3, 1, 3, 0], [2, 2, 2, 0, 1], [3, 1, 0, 0, 3]])            # along dim 1 of (3, 4)
IDX0 = np.array([[0, 2, 1, 0], [2, 2, 0, 0], [0, 1, 0, 2]])                     # along dim 0
IDX_SHORT = np.array([[1, 0], [0, 0]])                                         # smaller than x and src
# ties and zeros: amax/amin share among equal values (x's too), prod has single and double zeros
TX = np.array([[1.0, 2.0, 0.0, 2.0], [3.0, 0.0, 4.0, 4.0], [2.0, 2.0, -1.0, 0.0]])
TS = np.array([[2.0, 0.0, 1.0, 2.0, 3.0], [4.0, 0.0, 3.0, 0.0, 1.0], [2.0, 0.0, 0.0, -1.0, 2.0]])
TIDX = np.array([[1, 2, 2, 1, 0], [0, 1, 1, 3, 3], [0, 1, 2, 2, 3]])
INTS = np.array([[7, -7, 3, 0]])
INT_SRC = np.array([[2, 2, -4, 5, -3]])
INT_IDX = np.array([[0, 0, 1, 3, 3]])


def _reduce(reduce: str, include_self: bool, dim: int = 1) -> Callable:
    return lambda t, x, i, s: t.scatter_reduce(x, dim, i, s, reduce, include_self=include_self)


CASES: dict[str, tuple[Callable, tuple]] = {}
for _r in ("sum", "prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        CASES[f"{_r}_{_inc}"] = (_reduce(_r, _inc), (X34, IDX1, S35))
        CASES[f"{_r}_{_inc}_ties_zeros"] = (_reduce(_r, _inc), (TX, TIDX, TS))
    CASES[f"{_r}_dim0_method"] = (lambda t, x, i, s, r=_r: x.scatter_reduce(0, i, s, r) * 2, (X34, IDX0, S34))
    CASES[f"{_r}_int"] = (lambda t, x, i, s, r=_r: x.scatter_reduce(-1, i, s, r), (INTS, INT_IDX, INT_SRC))
CASES.update({
    "short_index": (lambda t, x, i, s: t.scatter_reduce(x, 1, i, s[:2, :2], "prod"), (X34, IDX_SHORT, S34)),
    "zero_d": (lambda t, x, i, s: t.scatter_reduce(x[0, 0], 0, i[0, 0], s[0, 0], "prod"), (X34, IDX0, S34)),
    "empty_index": (lambda t, x, i, s: x.scatter_reduce(1, i[:, :0], s[:, :0], "amax"), (X34, IDX1, S35)),
    "in_place": (lambda t, x, i, s: (x * 1).scatter_reduce_(1, i, s, "mean", include_self=False), (X34, IDX1, S35)),
    "bool_prod": (lambda t, x, i, s: (x > 0).scatter_reduce(1, i, s > 0, "prod"), (TX, TIDX, TS)),
    "bool_amax": (lambda t, x, i, s: (x > 0).scatter_reduce(1, i, s > 1, "amax", include_self=False),
                  (TX, TIDX, TS)),
    # as_strided: windows (overlapping), blocks, offsets, views of views, an expanded input
    "as_strided_block": (lambda t, x: t.as_strided(x, (2, 3), (4, 1), 5), (X34,)),
    "as_strided_windows": (lambda t, x: x.reshape(-1).as_strided((10, 3), (1, 1)), (X34,)),
    "as_strided_strided_windows": (lambda t, x: x.as_strided((3, 2, 3), (4, 1, 1)), (X34,)),
    "as_strided_repeat": (lambda t, x: x.as_strided((3, 4), (0, 1)), (X34,)),
    "as_strided_of_slice": (lambda t, x: x[1:].as_strided((2, 2), (1, 3)), (X34,)),
    "as_strided_reads_past_view": (lambda t, x: x[1, 1:3].as_strided((4,), (2,), 1), (X34,)),
    "as_strided_of_transpose": (lambda t, x: x.t().as_strided((3, 3), (4, 1)), (X34,)),
    "as_strided_of_expanded": (lambda t, x: x[0].expand(3, 4).as_strided((2, 3), (1, 1)), (X34,)),
    "as_strided_identity": (lambda t, x: x[:, 1:].as_strided(x[:, 1:].size(), x[:, 1:].stride(),
                                                            x[:, 1:].storage_offset()), (X34,)),
    "as_strided_0d": (lambda t, x: x.as_strided((), (), 7), (X34,)),
    "as_strided_empty": (lambda t, x: x.as_strided((0, 3), (100, 100), 50), (X34,)),
    # conjugate transposes of real tensors
    "mH": (lambda t, x: x.reshape(2, 2, 3).mH, (X34,)),
    "H": (lambda t, x: x.H * 2, (X34,)),
    "mT_of_0d": (lambda t, x: x[0, 0].mH * x[0, 0].adjoint(), (X34,)),
    "adjoint": (lambda t, x: t.adjoint(x) + x.adjoint(), (X34,)),
}
)
TIES = {name for name in CASES if name.endswith("ties_zeros") and ("amax" in name or "amin" in name)}

# reading storage past a view reads x's other elements, whose gradient PyTorch (and minigrad) drops
test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=TIES | {"as_strided_reads_past_view"})
# on a GPU as_strided reads a tensor that owns its memory (a copy), not a view of another tensor's
test_on_gpu_same_as_on_cpu = gpu_case_tests(CASES, leave_out={
    "as_strided_of_slice", "as_strided_reads_past_view", "as_strided_of_transpose", "as_strided_of_expanded",
    "as_strided_identity", "as_strided_windows"})


def test_tie_gradients_are_shared_as_torch_computes_them(torch: Any) -> None:
    """A place whose result equals x's value and two src values gives each a third (x included)."""
    x = mg.tensor([5.0, 1.0], dtype=mg.float64, requires_grad=True)
    src = mg.tensor([5.0, 5.0, 2.0], dtype=mg.float64, requires_grad=True)
    x.scatter_reduce(0, mg.tensor([0, 0, 1]), src, "amax").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 0.0])
    np.testing.assert_allclose(src.grad.numpy(), [1 / 3, 1 / 3, 1.0])


def test_prod_gradient_at_a_single_zero_is_the_product_of_the_others() -> None:
    x = mg.tensor([2.0, 3.0], dtype=mg.float64, requires_grad=True)
    src = mg.tensor([0.0, 4.0, 0.0, 0.0], dtype=mg.float64, requires_grad=True)
    x.scatter_reduce(0, mg.tensor([0, 0, 1, 1]), src, "prod").sum().backward()
    np.testing.assert_allclose(src.grad.numpy(), [8.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0])


# --- scatter's older reduce= ------------------------------------------------------------------------------

OLD = {
    "add_src": lambda t, x, i, s: x.scatter(1, i, s, reduce="add"),
    "multiply_src": lambda t, x, i, s: t.scatter(x, 1, i, s, reduce="multiply"),
    "add_value": lambda t, x, i, s: x.scatter(1, i, 2.5, reduce="add"),
    "multiply_value": lambda t, x, i, s: t.scatter(x, 1, i, value=-2.0, reduce="multiply"),
    "in_place": lambda t, x, i, s: x.clone().scatter_(1, i, s, reduce="add"),
    "plain": lambda t, x, i, s: x.scatter(1, i[:, :4], s),
}


@pytest.mark.parametrize("name", sorted(OLD))
def test_scatter_with_reduce_as_torch(name: str, torch: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # both warn that a Tensor src with reduce= is deprecated
        ours = OLD[name](mg, mg.tensor(TX), mg.tensor(TIDX), mg.tensor(TS))
        theirs = OLD[name](torch, torch.tensor(TX), torch.tensor(TIDX), torch.tensor(TS))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.dtype == theirs.numpy().dtype


def test_scatter_with_reduce_warns_and_refuses_other_reductions() -> None:
    x, i = mg.tensor(TX), mg.tensor(TIDX)
    with pytest.warns(UserWarning, match="deprecated.*scatter_reduce"):
        x.scatter(1, i, mg.tensor(TS), reduce="add")
    with pytest.raises(ValueError, match=r"scatter: reduce must be either 'add' or 'multiply', got 'mean'"):
        x.scatter(1, i, 1.0, reduce="mean")


# --- errors -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, message", [
    (lambda x, i, s: x.scatter_reduce(1, i, s, "median"), ValueError, r"scatter_reduce: reduce must be one of"),
    (lambda x, i, s: x.scatter_reduce(1, i, s.float(), "sum"), TypeError, r"src has dtype float32 .* float64"),
    (lambda x, i, s: x.scatter_reduce(1, i + 3, s, "sum"), IndexError, r"out of range for dim 1 of size 4"),
    (lambda x, i, s: x.scatter_reduce(1, i - 1, s, "sum"), IndexError, r"out of range"),
    (lambda x, i, s: x.scatter_reduce(1, i, s[:, :2], "sum"), ValueError, r"index \(3, 5\) must be no larger than "
                                                                           r"src \(3, 2\)"),
    (lambda x, i, s: x.scatter_reduce(1, i[0], s, "sum"), ValueError, r"index has 1 dims but the input has 2"),
    (lambda x, i, s: x.scatter_reduce(2, i, s, "sum"), Exception, r"scatter_reduce"),
    (lambda x, i, s: (x > 0).scatter_reduce(1, i, s > 0, "mean"), TypeError, r"'mean' is not implemented for bool"),
    (lambda x, i, s: x.scatter_reduce_(1, i, s, "sum", include_self="no"), TypeError, r"include_self"),
    (lambda x, i, s: x.as_strided((4, 4), (4, 1)), RuntimeError, r"as_strided: size \[4, 4\], stride \[4, 1\] "
                                                                  r"and storage offset 0 need a storage of 16 "
                                                                  r"elements, .*has 12"),
    (lambda x, i, s: x[2].as_strided((2,), (1,), 11), RuntimeError, r"need a storage of 13 elements"),
    (lambda x, i, s: x.as_strided((2,), (-1,)), ValueError, r"negative strides are not supported"),
    (lambda x, i, s: x.as_strided((2,), (1,), -1), ValueError, r"storage_offset must be non-negative"),
    (lambda x, i, s: x.as_strided((2, 2), (1,)), ValueError, r"size \[2, 2\] and stride \[1\] must have the same"),
    (lambda x, i, s: x.as_strided((-1,), (1,)), ValueError, r"sizes must be non-negative"),
    (lambda x, i, s: x.as_strided((2,), 1.5), TypeError, r"as_strided: stride must be"),
    (lambda x, i, s: x[0].H, ValueError, r"H: only supported on matrices \(2-D tensors\), got a 1-D"),
    (lambda x, i, s: x.reshape(2, 2, 3).H, ValueError, r"for batches of matrices use mH"),
    (lambda x, i, s: x[0].mH, ValueError, r"mH: only supported on matrices or batches of matrices"),
], ids=lambda v: "" if callable(v) or isinstance(v, type) else str(v)[:30])
def test_errors_name_the_op(call: Callable, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call(mg.tensor(X34, dtype=mg.float64), mg.tensor(IDX1), mg.tensor(S35))


# --- as_strided shares memory; overlapping results are read-only ------------------------------------------

def test_as_strided_is_a_view_whose_writes_reach_the_tensor(torch: Any) -> None:
    ours, theirs = mg.arange(12.0), torch.arange(12.0)
    for x in (ours, theirs):
        x.as_strided((2, 2), (4, 2), 1).mul_(10)
        x.as_strided((3,), (3,), 2).fill_(-1)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    view = ours.as_strided((3,), (2,), 1)
    assert np.shares_memory(view.data, ours.data)
    assert view.stride() == (2,) and view.storage_offset() == 1


@pytest.mark.parametrize("size, stride", [((3, 3), (1, 1)), ((2, 3), (2, 1)), ((3, 2), (1, 1))])
def test_overlapping_as_strided_refuses_in_place_naming_the_op(size: tuple, stride: tuple) -> None:
    x = mg.arange(6.0)
    with pytest.raises(RuntimeError, match=rf"add_: .*shape \({size[0]}, {size[1]}\)"):
        x.as_strided(size, stride).add_(1)
    np.testing.assert_array_equal(x.numpy(), np.arange(6.0))


def test_as_strided_in_place_on_a_graph_writes_through_as_torch() -> None:
    leaf = mg.arange(6.0, dtype=mg.float64).requires_grad_(True)
    x = leaf * 1
    x.as_strided((2,), (2,)).mul_(2)   # more cases, against torch: test_view_writes.py
    assert x.tolist() == [0.0, 1.0, 4.0, 3.0, 4.0, 5.0]
    x.sum().backward()
    assert leaf.grad.tolist() == [2.0, 1.0, 2.0, 1.0, 1.0, 1.0]


# --- layout, inference mode -------------------------------------------------------------------------------

def test_layout_is_strided() -> None:
    x = mg.randn(2, 3)
    assert x.layout is mg.strided and x.T.layout is mg.strided
    assert repr(mg.strided) == "mg.strided"
    assert pickle.loads(pickle.dumps(mg.strided)) is mg.strided


def test_is_inference_mode_enabled(torch: Any) -> None:
    seen = []
    for lib in (mg, torch):
        states = [lib.is_inference_mode_enabled()]
        with lib.inference_mode():
            states.append(lib.is_inference_mode_enabled())
            with lib.inference_mode(False):
                states.append(lib.is_inference_mode_enabled())
            other: list = []
            thread = threading.Thread(target=lambda lib=lib, other=other: other.append(
                lib.is_inference_mode_enabled()))
            thread.start()
            thread.join()
            states += other
        states.append(lib.is_inference_mode_enabled())
        seen.append(states)
    assert seen[0] == seen[1] == [False, True, False, False, False]

    @mg.inference_mode()
    def inside() -> tuple:
        return mg.is_inference_mode_enabled(), mg.is_grad_enabled()

    assert inside() == (True, False) and not mg.is_inference_mode_enabled()
