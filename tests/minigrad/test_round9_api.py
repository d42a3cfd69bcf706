"""PyTorch functions minigrad lacked until round 9, against PyTorch: the writes into a view (``select_scatter``,
``slice_scatter``, ``diagonal_scatter``, ``as_strided_scatter``), ``gradient``, the functional recurrent cells
(``rnn_tanh_cell`` …), the ``*_copy`` variants, and ``nonzero_static``, ``fill``, ``frombuffer``, ``from_dlpack``,
``range``, ``frobenius_norm``/``nuclear_norm``, ``matrix_rank``, ``Tensor.new_empty_strided``/``prelu``/``hardshrink``.

Each case is ``fn(lib, *tensors)`` run with ``lib = minigrad`` and ``lib = torch`` on the same float64 values
(values, dtypes and input gradients agree) and through ``mg.gradcheck``.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest
from helpers import case_tests

import minigrad as mg

RNG = np.random.default_rng(9)


def _normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


X345, X34, X3, S0D = _normal(3, 4, 5), _normal(3, 4), _normal(3), np.array(1.5)
COORDS = np.cumsum(RNG.uniform(0.3, 1.5, 4))   # increasing, uneven
B, I, H = 2, 3, 4


def _cell(gates: int) -> tuple:
    """input (B, I), h (B, H), w_ih (G·H, I), w_hh (G·H, H), b_ih, b_hh (G·H,)."""
    return (_normal(B, I), _normal(B, H), _normal(gates * H, I) * 0.5, _normal(gates * H, H) * 0.5,
            _normal(gates * H) * 0.1, _normal(gates * H) * 0.1)


def _quiet(fn: Callable) -> Callable:
    """``fn`` with the deprecation warnings of the legacy functions silenced."""
    def run(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)
    return run


CASES: dict[str, tuple[Callable, tuple]] = {
    # writes into a view, differentiable in input and src
    "select_scatter": (lambda t, x, s: t.select_scatter(x, s, 1, -2), (X345, _normal(3, 5))),
    "select_scatter_method": (lambda t, x, s: x.select_scatter(s, 0, 2), (X345, _normal(4, 5))),
    "slice_scatter": (lambda t, x, s: t.slice_scatter(x, s, 2, 1, None, 2), (X345, _normal(3, 4, 2))),
    "slice_scatter_negative": (lambda t, x, s: t.slice_scatter(x, s, -1, -3, -1), (X345, _normal(3, 4, 2))),
    "slice_scatter_default": (lambda t, x, s: x.slice_scatter(s), (X34, _normal(3, 4))),
    "diagonal_scatter": (lambda t, x, s: t.diagonal_scatter(x, s, 1, 2, 0), (X345, _normal(4, 2))),
    "diagonal_scatter_below": (lambda t, x, s: x.diagonal_scatter(s, -1), (X34, _normal(2))),
    "select_scatter_float32_src": (lambda t, x, s: t.select_scatter(x, s.float(), 0, 1), (X34, _normal(4))),
    # gradient: uniform spacing, per-dim spacing, coordinates (differentiable too), edge orders 1 and 2
    "gradient": (lambda t, x: t.gradient(x), (X345,)),
    "gradient_edge2": (lambda t, x: t.gradient(x, edge_order=2), (X345,)),
    "gradient_spacing": (lambda t, x: t.gradient(x, spacing=0.5, dim=1), (X345,)),
    "gradient_spacings": (lambda t, x: t.gradient(x, spacing=[2.0, 3.0], dim=(2, 0), edge_order=2), (X345,)),
    "gradient_coordinates": (lambda t, x, c: t.gradient(x, spacing=[c], dim=1), (X345, COORDS)),
    "gradient_coordinates_edge2": (lambda t, x, c: t.gradient(x, spacing=(c,), dim=[-2], edge_order=2),
                                   (X345, COORDS)),
    "gradient_int_coordinates": (lambda t, x: t.gradient(x, spacing=[t.tensor([0, 1, 3, 4, 7])], dim=2,
                                                         edge_order=2), (X345,)),
    "gradient_float32_input": (lambda t, x, c: t.gradient(x.detach().float(), spacing=[c.detach()], dim=0),
                               (X34, _normal(3).cumsum())),   # values only: float32 backward rounds differently
    # the functional recurrent cells
    "rnn_tanh_cell": (lambda t, *a: t.rnn_tanh_cell(*a), _cell(1)),
    "rnn_relu_cell": (lambda t, *a: t.rnn_relu_cell(*a), _cell(1)),
    "rnn_tanh_cell_no_bias": (lambda t, *a: t.rnn_tanh_cell(*a[:4]), _cell(1)[:4]),
    "lstm_cell": (lambda t, x, h, wi, wh, bi, bh: t.lstm_cell(x, (h, h * 0.5 + 0.1), wi, wh, bi, bh), _cell(4)),
    "lstm_cell_one_bias": (lambda t, x, h, wi, wh, bi: t.lstm_cell(x, [h, h], wi, wh, bi), _cell(4)[:5]),
    "gru_cell": (lambda t, *a: t.gru_cell(*a), _cell(3)),
    "gru_cell_no_bias": (lambda t, *a: t.gru_cell(*a[:4]), _cell(3)[:4]),
    # the *_copy variants
    "alias_copy": (lambda t, x: t.alias_copy(x), (X34,)),
    "as_strided_copy": (lambda t, x: t.as_strided_copy(x, (2, 3), (1, 4), 1), (X34,)),
    "diagonal_copy": (lambda t, x: t.diagonal_copy(x, 1, 2, 0), (X345,)),
    "expand_copy": (lambda t, x: t.expand_copy(x[:, :1], [2, -1, 3]), (X34,)),
    "permute_copy": (lambda t, x: t.permute_copy(x, (2, 0, 1)), (X345,)),
    "select_copy": (lambda t, x: t.select_copy(x, 1, -1), (X345,)),
    "slice_copy": (lambda t, x: t.slice_copy(x, 1, 1, None, 2), (X345,)),
    "split_copy": (lambda t, x: t.split_copy(x, 2, 1), (X345,)),
    "split_with_sizes_copy": (lambda t, x: t.split_with_sizes_copy(x, [1, 4], -1), (X345,)),
    "squeeze_copy": (lambda t, x: t.squeeze_copy(x[:1, :, None]), (X34,)),
    "squeeze_copy_dims": (lambda t, x: t.squeeze_copy(x[:1, :, None], (0, 2)), (X34,)),
    "t_copy": (lambda t, x: t.t_copy(x), (X34,)),
    "transpose_copy": (lambda t, x: t.transpose_copy(x, 0, 2), (X345,)),
    "unbind_copy": (lambda t, x: t.unbind_copy(x, 1), (X34,)),
    "unfold_copy": (lambda t, x: t.unfold_copy(x, 1, 2, 1), (X34,)),
    "unsqueeze_copy": (lambda t, x: t.unsqueeze_copy(x, -1), (X34,)),
    "view_copy": (lambda t, x: t.view_copy(x, (4, -1)), (X34,)),
    "detach_copy": (lambda t, x: t.detach_copy(x.detach()), (X34,)),
    # fill, the legacy norms, Tensor.prelu / hardshrink
    "fill_tensor_value": (lambda t, x, v: t.fill(x, v), (X34, S0D)),
    "fill_number": (lambda t, x: t.fill(x.detach(), 2.5), (X34,)),
    "fill_int": (lambda t: t.fill(t.arange(3), 2.7), ()),
    "frobenius_norm": (_quiet(lambda t, x: t.frobenius_norm(x, (0, 2))), (X345,)),
    "frobenius_norm_keepdim": (_quiet(lambda t, x: t.frobenius_norm(x, (1,), keepdim=True)), (X34,)),
    "nuclear_norm": (_quiet(lambda t, x: t.nuclear_norm(x)), (X34,)),
    "nuclear_norm_dims": (_quiet(lambda t, x: t.nuclear_norm(x, (0, 2), keepdim=True)), (X345,)),
    "prelu_method": (lambda t, x, w: x.prelu(w), (_normal(2, 3, 4), np.array([0.1, -0.2, 0.3]))),
    "hardshrink_method": (lambda t, x: x.hardshrink(0.3), (np.array([[-1.0, -0.2, 0.1], [0.25, 0.9, 2.0]]),)),
    "nonzero_static": (lambda t, x: t.nonzero_static(x, size=4), (np.array([[0.0, 1.5], [2.0, 0.0]]),)),
    "nonzero_static_cut": (lambda t, x: x.nonzero_static(size=1, fill_value=9), (np.array([[0.0, 1.5], [2.0, 0.0]]),)),
    "nonzero_static_0d": (lambda t: t.nonzero_static(t.tensor(5), size=2), ()),
}
# float32 values are not float64's (no gradcheck); torch's detach_copy requires grad with no derivative (not compared)
test_same_as_torch, test_gradcheck = case_tests(CASES, no_gradcheck=("select_scatter_float32_src",),
                                                not_in_torch=("detach_copy",))


# --- as_strided_scatter ----------------------------------------------------------------------------------------

def test_as_strided_scatter_against_torch(torch: Any) -> None:
    """Values as torch's (also for transposed and strided inputs: torch lays the output out in input's
    strides); the gradient of src as torch's for a contiguous input; the input's gradient by gradcheck, since
    torch 2.13's is wrong (it passes the gradient at the written places instead of elsewhere)."""
    src = _normal(2, 3)
    for view in (lambda x: x, lambda x: x.transpose(0, 2), lambda x: x[:, ::2]):
        ours = mg.as_strided_scatter(view(mg.tensor(X345)), mg.tensor(src), (2, 3), (1, 4), 2)
        theirs = torch.as_strided_scatter(view(torch.tensor(X345)), torch.tensor(src), (2, 3), (1, 4), 2)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=0)
    s_ours, s_theirs = mg.tensor(src, requires_grad=True), torch.tensor(src, requires_grad=True)
    weights = _normal(3, 4, 5)
    (mg.as_strided_scatter(mg.tensor(X345), s_ours, (2, 3), (1, 4), 2) * mg.tensor(weights)).sum().backward()
    (torch.as_strided_scatter(torch.tensor(X345), s_theirs, (2, 3), (1, 4), 2) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(s_ours.grad.numpy(), s_theirs.grad.numpy(), rtol=0, atol=0)


@pytest.mark.parametrize("view", [lambda x: x, lambda x: x.transpose(0, 2), lambda x: x[:, ::2]])
def test_as_strided_scatter_gradcheck(view: Callable) -> None:
    inputs = [mg.tensor(X345, requires_grad=True), mg.tensor(_normal(2, 3), requires_grad=True)]
    assert mg.gradcheck(lambda x, s: mg.as_strided_scatter(view(x), s, (2, 3), (1, 4), 2), inputs)


# --- errors -----------------------------------------------------------------------------------------------------

ERRORS: dict[str, Callable] = {
    "select_scatter_shape": lambda t: t.select_scatter(t.zeros(3, 4), t.ones(3), 0, 1),
    "select_scatter_index": lambda t: t.select_scatter(t.zeros(3, 4), t.ones(4), 0, 5),
    "select_scatter_dim": lambda t: t.select_scatter(t.zeros(3, 4), t.ones(4), 2, 0),
    "select_scatter_number_src": lambda t: t.select_scatter(t.zeros(3), 1.0, 0, 0),
    "slice_scatter_step": lambda t: t.slice_scatter(t.zeros(3, 4), t.ones(3, 2), 1, 0, 4, 0),
    "slice_scatter_shape": lambda t: t.slice_scatter(t.zeros(3, 4), t.ones(3, 1), 1, 3, 1),
    "diagonal_scatter_same_dims": lambda t: t.diagonal_scatter(t.zeros(3, 4), t.ones(3), 0, 1, 1),
    "diagonal_scatter_1d": lambda t: t.diagonal_scatter(t.zeros(3), t.ones(0), 10),
    "as_strided_scatter_bounds": lambda t: t.as_strided_scatter(t.zeros(3, 4), t.ones(2, 2), (2, 2), (1, 2), 100),
    "gradient_dims_repeated": lambda t: t.gradient(t.zeros(3, 4), dim=(1, 1)),
    "gradient_dim_range": lambda t: t.gradient(t.zeros(3, 4), dim=2),
    "gradient_spacing_length": lambda t: t.gradient(t.zeros(3, 4), spacing=[2.0]),
    "gradient_spacing_dim_length": lambda t: t.gradient(t.zeros(3, 4), spacing=(2.0, 3.0), dim=1),
    "gradient_spacing_tensor": lambda t: t.gradient(t.zeros(3, 4), spacing=t.arange(3.0), dim=0),
    "gradient_spacing_0d": lambda t: t.gradient(t.zeros(3, 4), spacing=[t.tensor(2.0), t.tensor(3.0)]),
    "gradient_spacing_2d": lambda t: t.gradient(t.zeros(4), spacing=[t.zeros(4, 1)]),
    "gradient_edge_order": lambda t: t.gradient(t.zeros(3, 4), edge_order=3),
    "gradient_too_short": lambda t: t.gradient(t.zeros(2, 4), edge_order=2),
    "gradient_empty": lambda t: t.gradient(t.zeros(3, 0)),
    "gradient_bool": lambda t: t.gradient(t.tensor([True, False, True])),
    "rnn_cell_batch": lambda t: t.rnn_tanh_cell(t.zeros(2, 3), t.zeros(1, 4), t.zeros(4, 3), t.zeros(4, 4)),
    "rnn_cell_hidden": lambda t: t.rnn_tanh_cell(t.zeros(2, 3), t.zeros(2, 3), t.zeros(4, 3), t.zeros(4, 4)),
    "rnn_cell_1d_input": lambda t: t.rnn_tanh_cell(t.zeros(3), t.zeros(4), t.zeros(4, 3), t.zeros(4, 4)),
    "gru_cell_weight": lambda t: t.gru_cell(t.zeros(2, 3), t.zeros(2, 4), t.zeros(5, 3), t.zeros(12, 4)),
    "gru_cell_no_hx": lambda t: t.gru_cell(t.zeros(2, 3), None, t.zeros(12, 3), t.zeros(12, 4)),
    "lstm_cell_one_state": lambda t: t.lstm_cell(t.zeros(2, 3), (t.zeros(2, 4),), t.zeros(16, 3), t.zeros(16, 4)),
    "lstm_cell_tensor_hx": lambda t: t.lstm_cell(t.zeros(2, 3), t.zeros(2, 4), t.zeros(16, 3), t.zeros(16, 4)),
    "nonzero_static_size": lambda t: t.nonzero_static(t.ones(2), size=-1),
    "fill_1d_value": lambda t: t.fill(t.zeros(2), t.ones(2)),
    "range_step_zero": lambda t: t.range(1, 4, 0),
    "range_sign": lambda t: t.range(4, 1),
    "frobenius_norm_dims": lambda t: t.frobenius_norm(t.zeros(2, 3), (0, 1, 1)),
    "frobenius_norm_int": lambda t: t.frobenius_norm(t.arange(6).reshape(2, 3), (0, 1)),
    "matrix_rank": lambda t: t.matrix_rank(t.eye(3)),
    "frombuffer_multiple": lambda t: t.frombuffer(bytearray(7), dtype=t.int32),
    "frombuffer_count": lambda t: t.frombuffer(bytearray(8), dtype=t.int32, count=3),
    "frombuffer_offset": lambda t: t.frombuffer(bytearray(8), dtype=t.int32, offset=8),
    "frombuffer_empty": lambda t: t.frombuffer(bytearray(), dtype=t.int32),
    "frombuffer_not_buffer": lambda t: t.frombuffer([1, 2], dtype=t.float32),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_as_torch(name: str, torch: Any) -> None:
    """Each call fails in PyTorch and in minigrad with an error of the same kind (ours may subclass more)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as theirs:
            ERRORS[name](torch)
        with pytest.raises(Exception) as ours:
            ERRORS[name](mg)
    assert isinstance(ours.value, type(theirs.value)) or type(theirs.value) is RuntimeError, \
        f"{name}: torch raised {type(theirs.value).__name__}, minigrad {type(ours.value).__name__}: {ours.value}"


# --- constructors and the rest ----------------------------------------------------------------------------------

def test_range_as_torch(torch: Any) -> None:
    for args, kwargs in (((1, 4), {}), ((1, 4, 0.5), {}), ((0, 1, 0.3), {}), ((4, 1, -1), {}),
                         ((1, 4), {"dtype": "int64"}), ((-2.5, 3), {"dtype": "float64"})):
        with pytest.warns(UserWarning, match="range is deprecated"):
            ours = mg.range(*args, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = torch.range(*args, **{k: getattr(torch, v) for k, v in kwargs.items()})
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_legacy_norms_warn() -> None:
    with pytest.warns(UserWarning, match="frobenius_norm is deprecated"):
        mg.frobenius_norm(mg.tensor(X34), (0, 1))
    with pytest.warns(UserWarning, match="nuclear_norm is deprecated"):
        mg.nuclear_norm(mg.tensor(X34))


def test_frombuffer_shares_memory(torch: Any) -> None:
    memory = bytearray(np.arange(4, dtype=np.int32).tobytes())
    ours, theirs = mg.frombuffer(memory, dtype=mg.int32, count=2, offset=4), torch.frombuffer(
        memory, dtype=torch.int32, count=2, offset=4)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    memory[4] = 7
    assert ours[0].item() == 7 == theirs[0].item()
    ours.add_(1)   # writes reach the buffer
    assert memory[4] == 8
    with pytest.warns(UserWarning, match="not writable"):
        read_only = mg.frombuffer(b"\x00\x00\x80\x3f", dtype=mg.float32, requires_grad=True)
    assert read_only.tolist() == [1.0] and read_only.requires_grad


def test_from_dlpack(torch: Any) -> None:
    array = np.arange(6.0).reshape(2, 3)
    from_numpy = mg.from_dlpack(array)
    array[0, 0] = 5.0
    assert from_numpy[0, 0].item() == 5.0 and from_numpy.shape == (2, 3)   # shares the array's memory
    source = torch.arange(6, dtype=torch.int32).reshape(3, 2).t()
    from_torch = mg.from_dlpack(source)
    assert from_torch.dtype == mg.int32 and from_torch.tolist() == source.tolist()
    source[0, 0] = 9
    assert from_torch[0, 0].item() == 9
    with pytest.raises(TypeError, match="from_dlpack"):
        mg.from_dlpack([1, 2])


def test_copies_do_not_alias() -> None:
    x = mg.tensor(X345.copy())
    outputs = [mg.alias_copy(x), mg.permute_copy(x, (2, 0, 1)), mg.select_copy(x, 0, 1), mg.slice_copy(x, 1, 0, 2),
               mg.diagonal_copy(x), mg.t_copy(x[0]), mg.transpose_copy(x, 0, 1), mg.unsqueeze_copy(x, 0),
               mg.squeeze_copy(x), mg.view_copy(x, (-1,)), mg.unfold_copy(x, 2, 2, 1), mg.expand_copy(x, (2, 3, 4, 5)),
               mg.as_strided_copy(x, (2, 2), (1, 1)), mg.detach_copy(x), *mg.split_copy(x, 2), *mg.unbind_copy(x)]
    for out in outputs:
        assert not np.shares_memory(out.data, x.data)
    assert mg.view_copy(x, mg.int64).dtype == mg.int64


def test_fill_keeps_graph_and_dtype(torch: Any) -> None:
    x = mg.tensor(X34, requires_grad=True)
    out = mg.fill(x, 3.0)
    assert out.requires_grad == torch.fill(torch.tensor(X34, requires_grad=True), 3.0).requires_grad
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))
    assert mg.fill(mg.arange(3), True).tolist() == [1, 1, 1]


def test_new_empty_strided(torch: Any) -> None:
    x = mg.tensor(X3)
    out = x.new_empty_strided((2, 2), (1, 2))
    assert out.shape == (2, 2) and out.stride() == (1, 2) and out.dtype == x.dtype
    assert x.new_empty_strided((2, 3), (3, 1), dtype=mg.int64).dtype == mg.int64


def test_functional_cells_match_the_modules() -> None:
    """mg.lstm_cell with a cell's weights is the cell (the same step function)."""
    from minigrad import nn
    cell = nn.LSTMCell(3, 4, dtype=mg.float64)   # the float64 inputs below: a float32 cell refuses them
    x, h, c = mg.tensor(_normal(2, 3)), mg.tensor(_normal(2, 4)), mg.tensor(_normal(2, 4))
    ours = mg.lstm_cell(x, (h, c), cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    for a, b in zip(ours, cell(x, (h, c))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_a_tensor_exports_its_memory_through_dlpack_as_torchs(torch: Any) -> None:
    """torch.from_dlpack(t) / np.from_dlpack(t) share a minigrad tensor's memory (Tensor.__dlpack__), mg.to_dlpack
    and minigrad.utils.dlpack as torch's; a tensor that requires grad is refused, as torch's."""
    from minigrad.utils import dlpack

    t = mg.arange(6.0).reshape(2, 3)
    shared = torch.from_dlpack(t)
    shared[0, 0] = 42.0
    assert t[0, 0].item() == 42.0 and np.from_dlpack(t).sum() == 57.0
    assert t.__dlpack_device__() == torch.ones(1).__dlpack_device__()
    assert torch.utils.dlpack.from_dlpack(mg.to_dlpack(t)).tolist() == t.tolist()
    assert dlpack.from_dlpack(torch.ones(2)).tolist() == [1.0, 1.0] and dlpack.to_dlpack is mg.to_dlpack
    for lib in (mg, torch):
        with pytest.raises(BufferError, match="require"):
            lib.ones(2, requires_grad=True).__dlpack__()
    assert torch.from_dlpack(mg.ones(2, requires_grad=True).detach()).tolist() == [1.0, 1.0]
