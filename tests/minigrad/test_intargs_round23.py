"""Round 23: integer (and scalar) arguments spelled as bool tensors, NumPy scalars and one-element tensors, against
PyTorch 2.13: its size lists refuse tensor(True) where its dim lists read it as 1."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(call, lib):
    """('ok', nested lists / shapes) or ('raises', the exception)."""
    try:
        out = call(lib)
    except Exception as error:  # noqa: BLE001
        return "raises", error
    if isinstance(out, (list, tuple)) and out and hasattr(out[0], "tolist"):
        return "ok", [t.tolist() for t in out]
    return "ok", out.tolist() if hasattr(out, "tolist") else tuple(out)


def _x(lib):
    return lib.arange(12.0).reshape(3, 4)


_REFUSED = {   # a bool tensor among PyTorch's sizes (SymInt lists): RuntimeError there, tensor(True) read as 1 here
    "tile": lambda L, b: _x(L).tile(b),
    "tile_tuple": lambda L, b: _x(L).tile((2, b)),
    "mg_tile": lambda L, b: L.tile(_x(L), (b, 2)),
    "as_strided_stride": lambda L, b: _x(L).as_strided((2, 2), (b, 1)),
    "empty_strided_stride": lambda L, b: L.empty_strided((2, 2), (2, b)).shape,
    "as_strided_scatter_stride": lambda L, b: L.as_strided_scatter(_x(L), L.ones(2, 2), (2, 2), (1, b)),
    "split_list": lambda L, b: _x(L).split([b, 2]),
    "split_list_later": lambda L, b: L.split(_x(L), [2, b]),
    "split_with_sizes": lambda L, b: _x(L).split_with_sizes([2, b]),
    "tensor_split_list": lambda L, b: _x(L).tensor_split([b, 2]),
    "roll_shifts_list": lambda L, b: _x(L).roll((1, b), (0, 1)),
    "zeros": lambda L, b: L.zeros(2, b),
    "zeros_tuple": lambda L, b: L.zeros((b, 2)),
    "reshape": lambda L, b: _x(L).reshape(-1, b, 4),
}

_READ_AS_ONE = {   # PyTorch's dim lists (and torch.Size, roll's bare shift) take tensor(True) as the int 1
    "flip": lambda L, b: _x(L).flip((0, b)),
    "roll_dims": lambda L, b: _x(L).roll((1, 1), (0, b)),
    "roll_bare_shift": lambda L, b: _x(L).roll(b, 0),
    "rot90_dims": lambda L, b: _x(L).rot90(1, (0, b)),
    "movedim": lambda L, b: L.ones(2, 3, 4).movedim((2, b), (0, 2)),
    "tensordot": lambda L, b: L.tensordot(_x(L), _x(L), dims=([b], [b])),
    "vector_norm": lambda L, b: L.linalg.vector_norm(L.ones(2, 3, 4), dim=(0, b)),
    "matrix_norm": lambda L, b: L.linalg.matrix_norm(L.ones(2, 3, 4), dim=(2, b)),
    "vsplit_list": lambda L, b: _x(L).vsplit([b, 2]),
    "hsplit_list": lambda L, b: _x(L).hsplit([b, 2]),
    "Size": lambda L, b: L.Size((2, b)),
    "Size_first_bool": lambda L, b: L.Size((True, 2)),
}


@pytest.mark.parametrize("name", sorted(_REFUSED))
def test_bool_tensor_in_a_size_list_raises_as_torch(name):
    """These read tensor(True) as the size/stride/shift 1 (int_tuple refused it only for what="shape"/"size")."""
    def call(L):
        return _REFUSED[name](L, L.tensor(True))
    want, got = _outcome(call, torch), _outcome(call, mg)
    assert want[0] == "raises" and isinstance(want[1], RuntimeError), want
    assert got[0] == "raises" and isinstance(got[1], (RuntimeError, TypeError)), got
    assert isinstance(got[1], RuntimeError), got   # PyTorch's class (a TypeError too here)


@pytest.mark.parametrize("name", sorted(_READ_AS_ONE))
def test_bool_tensor_in_a_dim_list_is_one_as_torch(name):
    def call(L):
        return _READ_AS_ONE[name](L, L.tensor(True))
    want, got = _outcome(call, torch), _outcome(call, mg)
    assert want[0] == got[0] == "ok", (want, got)
    assert got[1] == want[1]


def test_shape_arg_and_int_tuple_share_the_bool_tensor_check():
    """mg.zeros/ones/rand's shapes go through int_tuple: the same refusals (and int64 range) as reshape's."""
    for make in (mg.zeros, mg.ones, mg.empty, mg.rand):
        with pytest.raises(RuntimeError, match="bool tensor"):
            make(2, mg.tensor(True))
        with pytest.raises(TypeError):
            make(2**63)
        assert make(2, True).shape == (2, 1)   # a later bool is the int 1 (PyTorch's first-element rule)
    assert mg.zeros(np.int64(2), mg.tensor(3)).shape == (2, 3)
