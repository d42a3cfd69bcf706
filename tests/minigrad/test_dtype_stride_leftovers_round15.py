"""Round 15: leftovers of round 14's casts, strides and dtype objects, compared with PyTorch 2.13."""
import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

# float values of every kind: beyond int64, beyond int32 (where NumPy's direct cast to uint8 gave 0), fractions, -0.0
FLOATS = [-1.2654214700e10, 3.5151007e9, 2.0 ** 40 + 7, -2.0 ** 31 - 1, 4294967299.0, 1e20, -1e20, 2.0 ** 63,
          -1.5, 255.9, 300.5, -0.0, 0.5, float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("source", ["float64", "float32", "complex128"])
@pytest.mark.parametrize("make", ["tensor", "as_tensor"])
def test_creation_with_an_integer_dtype_casts_floats_as_torch(make, source):
    # mg.tensor(array, dtype=mg.uint8) cast with NumPy's direct cast (0 past 2**31) where .to(uint8) went through
    # int64 as PyTorch's
    array = np.array(FLOATS, dtype=source)
    for name in ("uint8", "int8", "int16", "int32", "int64", "bool"):
        dtype = mg.bool_ if name == "bool" else getattr(mg, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # complex to real
            expected = getattr(torch, make)(array, dtype=getattr(torch, name)).numpy()
            warnings.simplefilter("error")
            warnings.filterwarnings("ignore", message=".*discards the imaginary part")
            warnings.filterwarnings("ignore", category=np.exceptions.ComplexWarning)
            got = getattr(mg, make)(array, dtype=dtype).numpy()
        assert got.dtype == expected.dtype and got.tolist() == expected.tolist(), (make, source, name)


def _layouts():
    """(name, minigrad tensor, torch tensor) of the same values laid out transposed, permuted, channels-last, sliced
    channels-last and broadcast."""
    def channels_last(lib, n, c, h, w):
        return lib.arange(float(n * c * h * w)).reshape(n, h, w, c).permute(0, 3, 1, 2)
    cases = {
        "transposed": lambda lib: lib.arange(6.0).reshape(3, 2).t(),
        "permuted": lambda lib: lib.arange(24.0).reshape(4, 3, 2).permute(2, 0, 1),
        "channels_last": lambda lib: channels_last(lib, 2, 3, 4, 5),
        "channels_last_n1": lambda lib: channels_last(lib, 1, 3, 2, 2),
        "sliced_channels_last": lambda lib: channels_last(lib, 2, 3, 4, 10)[..., ::2],
        "expanded": lambda lib: lib.arange(3.0).expand(4, 3),
    }
    return [(name, case(mg), case(torch)) for name, case in cases.items()]


def _same_layout(ours, theirs, what):
    assert ours.tolist() == theirs.tolist(), what
    assert ours.is_contiguous() == theirs.is_contiguous(), what
    if ours.ndim == 4:
        assert ours.is_contiguous(memory_format=mg.channels_last) == \
            theirs.is_contiguous(memory_format=torch.channels_last), what
    # a size-1 dim's stride is a convention (README): compare the others
    assert [s for s, n in zip(ours.stride(), ours.shape) if n != 1] == \
        [s for s, n in zip(theirs.stride(), theirs.shape) if n != 1], what


def test_flip_and_rot90_keep_the_input_layout_as_torch():
    # Flip always gave C order; PyTorch's flip keeps a transposed or channels-last input's layout
    for name, x, t in _layouts():
        for dims in ([0], [-1], list(range(t.ndim))):
            _same_layout(mg.flip(x, dims), torch.flip(t, dims), name)
        _same_layout(mg.fliplr(x), torch.fliplr(t), name)
        _same_layout(mg.flipud(x), torch.flipud(t), name)
        for k in (1, 2, 3):
            _same_layout(mg.rot90(x, k), torch.rot90(t, k), (name, k))


@pytest.mark.parametrize("shifts, dims", [(1, 0), (1, 1), (1, -1), ((1, 1), (0, 1)), ((2, 1), (-1, 1)), (0, 0),
                                          (4, 2), ((4, 1), (2, 3)), ((1, 4), (2, 3)), (3, None)])
def test_roll_lays_out_as_torch(shifts, dims):
    # NumPy's roll kept any input's order of strides; PyTorch's is C order, or channels-last for a channels-last
    # input rolled by other than a multiple of the size (its roll is a cat of two narrowed pieces, dim by dim)
    for name, x, t in _layouts():
        if dims is not None and max(d if d >= 0 else -d - 1 for d in np.atleast_1d(dims)) >= t.ndim:
            continue
        _same_layout(mg.roll(x, shifts, dims), torch.roll(t, shifts, dims), name)


def test_tril_and_triu_are_c_ordered_as_torch():
    # NumPy's tril kept a transposed input's layout, so .view(-1) of the result raised where PyTorch's works
    for name, x, t in _layouts():
        for k in (0, 1, -1):
            _same_layout(mg.tril(x, k), torch.tril(t, k), name)
            _same_layout(mg.triu(x, k), torch.triu(t, k), name)
    assert mg.tril(mg.arange(6.0).reshape(3, 2).t()).view(-1).tolist() == \
        torch.tril(torch.arange(6.0).reshape(3, 2).t()).view(-1).tolist()


@pytest.mark.parametrize("big", [2 ** 63, -2 ** 63 - 1, 2 ** 64])
def test_python_ints_beyond_int64_in_a_list_as_torch(big):
    # a float or complex element makes the list a float (complex) tensor, where the big int converts (it raised);
    # an integer list raises PyTorch's ValueError (it was only an OverflowError)
    for data in ([1.5, big], [[1.5], [big]], [1j, big], [big, 2.0]):
        got, expected = mg.tensor(data), torch.tensor(data)
        assert str(got.dtype) == str(expected.dtype).removeprefix("torch.") and got.tolist() == expected.tolist()
    for data in ([big], [[1], [big]], [True, big]):
        with pytest.raises(ValueError):
            torch.tensor(data)
        with pytest.raises(ValueError, match="does not fit in int64"):
            mg.tensor(data)
        with pytest.raises(OverflowError):
            mg.as_tensor(data)


def test_cat_and_stack_lay_out_as_torch():
    # NumPy's concatenate/stack kept a transposed input's order of strides (so .view(-1) of the result raised);
    # PyTorch's cat is channels-last only when every input suggests channels-last, else C order
    for name, x, t in _layouts():
        for dim in range(-t.ndim, t.ndim):
            _same_layout(mg.cat([x, x], dim), torch.cat([t, t], dim), (name, dim))
            _same_layout(mg.cat([x, x.contiguous()], dim), torch.cat([t, t.contiguous()], dim), (name, dim))
        for dim in range(t.ndim + 1):
            _same_layout(mg.stack([x, x], dim), torch.stack([t, t], dim), (name, dim))
            _same_layout(mg.stack([x.contiguous(), x], dim), torch.stack([t.contiguous(), t], dim), (name, dim))
    a, b = mg.arange(6.0).reshape(3, 2).t(), torch.arange(6.0).reshape(3, 2).t()
    assert mg.cat([a, a]).view(-1).tolist() == torch.cat([b, b]).view(-1).tolist()


def test_tensor_of_a_transposed_array_keeps_its_layout_as_torch():
    # mg.tensor(array) copied into C order; torch.tensor's copy is preserve_format (as clone)
    base = np.arange(24.0).reshape(2, 3, 4)
    for array in (base.transpose(2, 0, 1), base.transpose(1, 0, 2), base[:, ::2], base[:, :, ::2].transpose(2, 1, 0),
                  np.broadcast_to(base[:1], (3, 3, 4)), np.asfortranarray(base)):
        for dtype in (None, "int32", "float16"):
            got = mg.tensor(array, dtype=dtype)
            expected = torch.tensor(array, dtype=None if dtype is None else getattr(torch, dtype))
            assert got.stride() == expected.stride() and got.tolist() == expected.tolist()
            assert got.storage_offset() == 0 and not np.shares_memory(got.data, array)
    x, t = mg.arange(6.0).reshape(2, 3).t(), torch.arange(6.0).reshape(2, 3).t()
    copied = mg.tensor(x)
    assert copied.stride() == t.clone().stride() == (1, 3)   # torch.tensor(t) is t.clone() (with a warning)
    copied.add_(1)
    assert x.tolist() == t.tolist()


@pytest.mark.gpu
def test_casts_and_layouts_on_the_gpu():
    # the same code paths on CuPy (or the strict CuPy stand-in, tests/conftest.py)
    x = mg.arange(120.0, device="cuda").reshape(2, 4, 5, 3).permute(0, 3, 1, 2)
    t = torch.arange(120.0).reshape(2, 4, 5, 3).permute(0, 3, 1, 2)
    a = mg.arange(6.0, device="cuda").reshape(3, 2).t()
    u = torch.arange(6.0).reshape(3, 2).t()
    for ours, theirs in [(mg.flip(x, [1]), torch.flip(t, [1])), (mg.roll(x, 1, 2), torch.roll(t, 1, 2)),
                         (mg.roll(a, 1, 0), torch.roll(u, 1, 0)), (mg.cat([x, x], 1), torch.cat([t, t], 1)),
                         (mg.stack([x, x], 2), torch.stack([t, t], 2)), (mg.stack([a, a], 2), torch.stack([u, u], 2)),
                         (mg.tril(a), torch.tril(u)), (mg.tensor(a), u.clone()),
                         (mg.tensor(np.array([-1.2654214700e10, 3.5151007e9]), dtype=mg.uint8, device="cuda"),
                          torch.tensor([-1.2654214700e10, 3.5151007e9], dtype=torch.float64).to(torch.uint8))]:
        assert ours.device.type == "cuda"
        assert ours.cpu().tolist() == theirs.tolist() and ours.stride() == theirs.stride()
    w = mg.arange(6.0, device="cuda", requires_grad=True)
    (mg.cat([w.reshape(3, 2).t(), w.reshape(3, 2).t()]) * 2).sum().backward()
    assert w.grad.cpu().tolist() == [4.0] * 6
