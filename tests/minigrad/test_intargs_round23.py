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


def _assert_same_outcome(call, dtype=None, **tolerance):
    """``call`` on torch and on minigrad: both raise (ours an instance of torch's class) or both return equal
    values (as ``dtype`` arrays within ``tolerance`` when ``dtype`` is given)."""
    want, got = _outcome(call, torch), _outcome(call, mg)
    assert got[0] == want[0], (got, want)
    if want[0] == "raises":
        assert isinstance(got[1], type(want[1])), (got, want)
    elif dtype is None:
        assert got[1] == want[1]
    else:
        np.testing.assert_allclose(np.array(got[1], dtype=dtype), np.array(want[1], dtype=dtype), **tolerance)


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


_HYPER = {   # a NumPy scalar or 0-d tensor as a number argument: PyTorch reads its value; its dtype promoted here
    "add_alpha": lambda L, v: L.ones(3).add(L.ones(3), alpha=v),
    "sub_alpha": lambda L, v: L.sub(L.ones(3), L.ones(3), alpha=v),
    "addmm_beta": lambda L, v: L.addmm(L.ones(2, 2), L.ones(2, 2), L.ones(2, 2), beta=v),
    "lerp_weight": lambda L, v: L.lerp(L.zeros(3), L.ones(3), v / 4),
    "layer_norm_eps": lambda L, v: L.nn.functional.layer_norm(_x(L), (4,), eps=v),
    "batch_norm_eps": lambda L, v: L.nn.functional.batch_norm(_x(L), None, None, training=True, eps=v),
    "batch_norm_momentum": lambda L, v: L.nn.functional.batch_norm(_x(L), L.zeros(4), L.ones(4), training=True,
                                                                    momentum=v / 4),
    "std_correction": lambda L, v: _x(L).std(correction=v),
    "var_mean_correction": lambda L, v: L.var_mean(_x(L), 0, correction=v),
}


@pytest.mark.parametrize("spell", [np.int64, np.int32, np.float64, "tensor"])
@pytest.mark.parametrize("name", sorted(_HYPER))
def test_numpy_scalar_or_tensor_number_keeps_float32_as_torch(name, spell):
    def call(L):
        value = L.tensor(2) if spell == "tensor" else spell(2)
        if spell == "tensor" and name in ("lerp_weight", "add_alpha", "sub_alpha", "addmm_beta"):
            value = 2   # (a tensor there is an operand, which promotes under NumPy's rules: see the README)
        return _HYPER[name](L, value)
    want, got = _outcome(call, torch), _outcome(call, mg)
    assert want[0] == "ok" and got[0] == "ok", (want, got)
    got_out, want_out = call(mg), call(torch)
    for g, w in zip(got_out if isinstance(got_out, tuple) else (got_out,),
                    want_out if isinstance(want_out, tuple) else (want_out,)):
        assert str(g.dtype) == str(w.dtype).replace("torch.", "") == "float32"
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("spell", [True, np.True_, "tensor"])
def test_std_correction_bool_is_one_as_torch(spell):
    def call(L):
        return _x(L).std(0, correction=L.tensor(True) if spell == "tensor" else spell)
    assert _outcome(call, mg) == _outcome(call, torch)
    assert mg.allclose(call(mg), _x(mg).std(0, correction=1))


@pytest.mark.parametrize("p", [None, "1d", "2d", np.False_, "b0"])
def test_dropout_p_that_is_no_number_raises_type_error_as_torch(p):
    """It raised ValueError (the class of an out-of-range number); a 0-d bool tensor and np.False_ are accepted."""
    def call(L):
        value = {"1d": L.tensor([0.5]), "2d": L.tensor([0.5, 0.5]), "b0": L.tensor(False)}.get(p, p) \
            if isinstance(p, (str, type(None))) else p
        return L.nn.functional.dropout(L.ones(4), value, training=False)
    want, got = _outcome(call, torch), _outcome(call, mg)
    assert got[0] == want[0], (got, want)
    if want[0] == "raises":
        assert isinstance(got[1], type(want[1])) and not isinstance(got[1], ValueError), got
    else:
        assert got[1] == want[1]


_PADS = {
    "later_bool": lambda L: (1, True),                 # PyTorch's int list: a later bool is 0 or 1
    "bool_tensor": lambda L: (L.tensor(True), 1),      # a bool tensor among sizes: RuntimeError
    "later_bool_tensor": lambda L: (1, L.tensor(False)),
    "whole_tensor": lambda L: L.tensor([1, 1]),        # not a tuple of ints: TypeError
    "int_tensors": lambda L: (L.tensor(1), L.tensor([2])),
}


@pytest.mark.parametrize("mode", ["constant", "reflect", "circular"])
@pytest.mark.parametrize("name", sorted(_PADS))
def test_pad_amounts_as_torch(name, mode):
    def call(L):
        return L.nn.functional.pad(L.arange(12.0).reshape(1, 3, 4), _PADS[name](L), mode=mode)
    _assert_same_outcome(call)


_NN_INTS = {   # nn.functional's int arguments (read by minigrad.int_arguments.int_arg)
    "one_hot": lambda L, v: L.nn.functional.one_hot(L.tensor([0, 0]), v),
    "glu_dim": lambda L, v: L.nn.functional.glu(L.ones(2, 4), v),
    "gumbel_softmax_dim": lambda L, v: L.nn.functional.gumbel_softmax(L.ones(2, 4), dim=v).shape,
    "cosine_similarity_dim": lambda L, v: L.nn.functional.cosine_similarity(_x(L), _x(L) + 1, v),
    "normalize_dim": lambda L, v: L.nn.functional.normalize(_x(L), dim=v),             # norm's int list: accepted
    "embedding_padding_idx": lambda L, v: L.nn.functional.embedding(L.tensor([0, 1]), L.ones(3, 2), padding_idx=v),
}


@pytest.mark.parametrize("spell", ["b0", "b1d", "i1d", "i0"])
@pytest.mark.parametrize("name", sorted(_NN_INTS))
def test_nn_int_arguments_as_torch(name, spell):
    """tensor(True) was the int 1 and tensor([1]) too (operator.index), where PyTorch refuses both (but normalize's
    dim and embedding's SymInt padding_idx, which take tensor([1]))."""
    def call(L):
        value = {"b0": L.tensor(True), "b1d": L.tensor([True]), "i1d": L.tensor([1]), "i0": L.tensor(1)}[spell]
        return _NN_INTS[name](L, value)
    want, got = _outcome(call, torch), _outcome(call, mg)
    assert got[0] == want[0], (got, want)
    if want[0] == "ok":
        np.testing.assert_allclose(np.array(got[1], dtype=float), np.array(want[1], dtype=float), rtol=1e-6)
    else:
        assert isinstance(got[1], (TypeError, RuntimeError)) and isinstance(got[1], type(want[1])), (got, want)


_INT_LIKE = {   # accepted by PyTorch: a NumPy int, a 0-d int tensor (and, for SymInt ignore_index, tensor([k]))
    "cov_correction": lambda L, v: L.cov(_x(L), correction=v),
    "nll_loss_ignore_index": lambda L, v: L.nn.functional.nll_loss(L.zeros(2, 3), L.tensor([0, 1]), ignore_index=v),
    "cross_entropy_ignore_index": lambda L, v: L.nn.functional.cross_entropy(L.zeros(2, 3), L.tensor([0, 1]),
                                                                          ignore_index=v),
}


@pytest.mark.parametrize("spell", ["np", "i0", "i1d", "b0"])
@pytest.mark.parametrize("name", sorted(_INT_LIKE))
def test_int_like_arguments_as_torch(name, spell):
    """They took Python and NumPy ints only (TypeError for the rest)."""
    def call(L):
        value = {"np": np.int64(1), "i0": L.tensor(1), "i1d": L.tensor([1]), "b0": L.tensor(True)}[spell]
        return _INT_LIKE[name](L, value)
    _assert_same_outcome(call, float, rtol=1e-6)


_FFT = {
    "fft_n": lambda L, v: L.fft.fft(L.arange(4.0), n=v),
    "rfft_dim": lambda L, v: L.fft.rfft(_x(L), dim=v),
    "ifft_dim": lambda L, v: L.fft.ifft(_x(L), dim=v),
    "fft2_s": lambda L, v: L.fft.fft2(_x(L), s=(2, v)),
    "irfftn_s": lambda L, v: L.fft.irfftn(_x(L), s=(v, 2)),
    "fftn_dim": lambda L, v: L.fft.fftn(_x(L), dim=(0, v)),   # an int list: tensor(True) is 1, as in PyTorch
}


@pytest.mark.parametrize("spell", ["b0", "i1d", "i0"])
@pytest.mark.parametrize("name", sorted(_FFT))
def test_fft_int_arguments_as_torch(name, spell):
    """n and s sizes are SymInts (tensor([1]) taken, tensor(True) refused); a one-dim transform's dim an int
    (both refused); they were read by operator.index (tensor(True) the size or dim 1)."""
    def call(L):
        return _FFT[name](L, {"b0": L.tensor(True), "i1d": L.tensor([1]), "i0": L.tensor(1)}[spell])
    _assert_same_outcome(call, complex, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", ["later_bool", "bool_tensor", "later_bool_tensor", "first_bool"])
def test_interpolate_size_as_torch(size):
    """PyTorch's output_size is a SymInt[]: (2, True) is (2, 1) (a TypeError here), a bool tensor raises
    RuntimeError (read as 1 here)."""
    def call(L):
        value = {"later_bool": (2, True), "bool_tensor": L.tensor(True), "later_bool_tensor": (2, L.tensor(True)),
                 "first_bool": (True, 2)}[size]
        return L.nn.functional.interpolate(L.arange(16.0).reshape(1, 1, 4, 4), size=value)
    _assert_same_outcome(call)


_SYMINTS = {   # PyTorch's SymInt arguments take a one-element int tensor (not a bool one)
    "select_index": lambda L, v: _x(L).select(1, v),
    "multinomial_num_samples": lambda L, v: L.multinomial(L.ones(3), v).shape,
    "as_strided_offset": lambda L, v: _x(L).as_strided((2, 2), (1, 1), v),
    "as_strided_scatter_offset": lambda L, v: L.as_strided_scatter(_x(L), L.ones(2, 2), (2, 2), (4, 1), v),
    "channel_shuffle_groups": lambda L, v: L.nn.functional.channel_shuffle(L.arange(8.0).reshape(1, 4, 2), v + 1),
    "any_dims": lambda L, v: L.ones(2, 3, 4).any((0, v)),      # an int list: tensor(True), a later True too
    "all_dims": lambda L, v: L.ones(2, 3, 4).all((2, v)),
}


@pytest.mark.parametrize("spell", ["i1d", "b1d", "b0", "later_bool"])
@pytest.mark.parametrize("name", sorted(_SYMINTS))
def test_one_element_int_tensors_as_torch(name, spell):
    """tensor([1]) raised here where PyTorch takes it (and any/all's dim lists refused (0, True))."""
    def call(L):
        value = {"i1d": L.tensor([1]), "b1d": L.tensor([True]), "b0": L.tensor(True), "later_bool": True}[spell]
        return _SYMINTS[name](L, value)
    _assert_same_outcome(call, float)


@pytest.mark.parametrize("value", [np.int64(2), np.float32(0.5), np.bool_(True), True])
def test_numpy_scalar_scatter_value_and_quantile_q_as_torch(value):
    """scatter's number src and quantile's q refused NumPy scalars (and q a bool) that PyTorch reads as numbers."""
    def scatter(L):
        return L.zeros(3).scatter(0, L.tensor([1]), value)

    def quantile(L):
        return L.arange(5.0).quantile(value / 4 if isinstance(value, np.int64) else value)
    for call in (scatter, quantile):
        want, got = _outcome(call, torch), _outcome(call, mg)
        assert want[0] == got[0] == "ok", (got, want)
        assert got[1] == pytest.approx(want[1])


@pytest.mark.parametrize("spell", ["bool", "b0", "i1d", "i0"])
@pytest.mark.parametrize("which", ["low", "high"])
def test_randint_bounds_as_torch(which, spell):
    """randint read True / tensor(True) as the bound 1 (operator.index); PyTorch's SymInts refuse them."""
    def call(L):
        value = {"bool": True, "b0": L.tensor(True), "i1d": L.tensor([1]), "i0": L.tensor(1)}[spell]
        low, high = (value, 5) if which == "low" else (0, value)
        return L.randint(low, high, (4,)).shape
    want, got = _outcome(call, torch), _outcome(call, mg)
    assert got[0] == want[0], (got, want)
    if want[0] == "raises":
        assert isinstance(got[1], type(want[1])), (got, want)


@pytest.mark.parametrize("shape", ["i0", "i1d", "b0", "whole_tensor", "np"])
def test_layer_norm_normalized_shape_as_torch(shape):
    """PyTorch's SymInt[] takes (tensor(4),) and (np.int64(4),); a bool tensor in it, or a tensor as the whole of
    it, raise (the first two raised TypeError here)."""
    def call(L):
        value = {"i0": (L.tensor(4),), "i1d": (L.tensor([4]),), "b0": (3, L.tensor(True)), "whole_tensor": L.tensor(4),
                 "np": (np.int64(4),)}[shape]
        return L.nn.functional.layer_norm(L.arange(24.0).reshape(2, 3, 4), value)
    want, got = _outcome(call, torch), _outcome(call, mg)
    assert got[0] == want[0], (got, want)
    if want[0] == "ok":
        np.testing.assert_allclose(np.array(got[1]), np.array(want[1]), rtol=1e-5, atol=1e-6)
    else:
        assert isinstance(got[1], type(want[1])), (got, want)
