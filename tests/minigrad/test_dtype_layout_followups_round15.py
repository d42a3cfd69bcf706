"""Round 15: follow-ups of the dtype and layout fuzzing (aliasing of .to(memory_format=), casts of written values,
result layouts), compared with PyTorch 2.13."""
import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


def _channels_last(lib, n, c, h, w):
    return lib.arange(float(n * c * h * w)).reshape(n, h, w, c).permute(0, 3, 1, 2)


LAYOUTS = {
    "c_2131": lambda lib: lib.arange(6.0).reshape(2, 1, 3, 1),
    "c_2311": lambda lib: lib.arange(6.0).reshape(2, 3, 1, 1),
    "c_1311": lambda lib: lib.arange(3.0).reshape(1, 3, 1, 1),
    "c_2345": lambda lib: lib.arange(120.0).reshape(2, 3, 4, 5),
    "channels_last": lambda lib: _channels_last(lib, 2, 3, 4, 5),
    "sliced_channels_last": lambda lib: _channels_last(lib, 2, 3, 4, 10)[..., ::2],
    "transposed": lambda lib: lib.arange(6.0).reshape(3, 2).t(),
    "expanded": lambda lib: lib.arange(3.0).reshape(1, 3, 1, 1).expand(2, 3, 4, 5),
}


def _shares(ours, x):
    return np.shares_memory(ours.data, x.data)


@pytest.mark.parametrize("name", LAYOUTS)
@pytest.mark.parametrize("fmt", ["channels_last", "contiguous_format", "preserve_format"])
def test_to_memory_format_aliases_only_as_torch(name, fmt):
    # x.to(memory_format=channels_last) returned x itself for a contiguous (2, 1, 3, 1) x (writes to the result
    # changed x); PyTorch's to() aliases only when x's suggested memory format is the one asked for
    for dtype in (None, "float32"):
        for copy in (False, True):
            t, x = LAYOUTS[name](torch), LAYOUTS[name](mg)
            args = () if dtype is None else (getattr(torch, dtype),)
            if fmt == "channels_last" and t.ndim != 4:
                continue
            expected = t.to(*args, copy=copy, memory_format=getattr(torch, fmt))
            got = x.to(*(() if dtype is None else (getattr(mg, dtype),)), copy=copy, memory_format=getattr(mg, fmt))
            what = (name, fmt, dtype, copy)
            assert _shares(got, x) == (expected.data_ptr() == t.data_ptr()), what
            assert got.tolist() == expected.tolist() and got.is_contiguous() == expected.is_contiguous(), what
            if t.ndim == 4:
                assert got.is_contiguous(memory_format=mg.channels_last) == \
                    expected.is_contiguous(memory_format=torch.channels_last), what


BIG = [-1.2654214700e10, 3.5151007e9, 2.0 ** 40 + 7, -2.0 ** 31 - 1, 4294967299.0, 255.9, -1.5, 300.5]


@pytest.mark.parametrize("source", ["float64", "float32", "complex128"])
@pytest.mark.parametrize("write", ["slice", "int", "ellipsis", "zero_d_index", "copy_array", "list_value"])
def test_basic_index_writes_cast_floats_into_uint8_as_torch(write, source):
    # x[:] = float64 tensor into uint8 went through NumPy's direct cast (3.5151007e9 gave 0; PyTorch's copy_ goes
    # through int64: 28)
    values = np.array(BIG, dtype=source)
    t, x = torch.zeros(len(BIG), dtype=torch.uint8), mg.zeros(len(BIG), dtype=mg.uint8)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")   # complex to real (compared are the values)
        if write == "slice":
            t[:] = torch.tensor(values)
            x[:] = mg.tensor(values)
        elif write == "int":
            t[1] = torch.tensor(values)[1]
            x[1] = mg.tensor(values)[1]
        elif write == "ellipsis":
            t[..., 2:5] = torch.tensor(values)[2:5]
            x[..., 2:5] = mg.tensor(values)[2:5]
        elif write == "zero_d_index":
            t[torch.tensor(4)] = torch.tensor(values)[4]
            x[mg.tensor(4)] = mg.tensor(values)[4]
        elif write == "copy_array":   # (an array or list source: torch.tensor(values) copied)
            t.copy_(torch.tensor(values))
            x.copy_(values)
        else:
            t[:] = torch.tensor(values)
            x[:] = values.tolist()
    assert x.tolist() == t.tolist()


def _index(lib, kind):
    return {"list": [0, 2], "tensor": lib.tensor([0, 2]), "mask": lib.tensor([True, False, True]),
            "row_list": (1, [0, 2]), "slice_and_mask": (slice(None), lib.tensor([True, False, True, False])),
            "two_lists": ([0, 2], [1, 3])}[kind]


@pytest.mark.parametrize("kind", ["list", "tensor", "mask", "row_list", "slice_and_mask", "two_lists"])
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("uint8", "float64"), ("int64", "int32"),
                                    ("float64", "float32"), ("complex64", "float32")])
def test_advanced_index_writes_need_matching_dtypes_as_torch(kind, dtypes):
    # x[[0, 1]] = float64 tensor into float32 cast silently; PyTorch's index_put_ raises a RuntimeError (a Python
    # number or a same-dtype tensor is fine, and a one-element value into a bool mask is a masked_fill_)
    target, source = dtypes
    t = torch.arange(12.0).reshape(3, 4).to(getattr(torch, target))
    x = mg.arange(12.0).reshape(3, 4).to(getattr(mg, target))
    shape = tuple(t[_index(torch, kind)].shape)
    for value_shape in (shape, (), (1,)):
        values = np.arange(1.0, 1.0 + int(np.prod(value_shape))).reshape(value_shape) * 3.5
        try:
            t[_index(torch, kind)] = torch.tensor(values, dtype=getattr(torch, source))
        except RuntimeError:
            with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes match"):
                x[_index(mg, kind)] = mg.tensor(values, dtype=getattr(mg, source))
        else:
            x[_index(mg, kind)] = mg.tensor(values, dtype=getattr(mg, source))
        assert x.tolist() == t.tolist(), value_shape
        t[_index(torch, kind)] = 7   # a number, and a same-dtype tensor, are fine
        x[_index(mg, kind)] = 7
        t[_index(torch, kind)] = torch.tensor(values).to(t.dtype)
        x[_index(mg, kind)] = mg.tensor(values).to(x.dtype)
        assert x.tolist() == t.tolist(), value_shape


def test_a_mask_fill_with_a_tensor_checks_it_fits_as_torch():
    # x[mask] = 0-d float64 tensor: PyTorch's masked_fill_ refuses a value beyond uint8 (ours stored NumPy's cast)
    for value in (3.5151007e9, 300.0, -1.0, 2.5):
        t, x = torch.zeros(3, dtype=torch.uint8), mg.zeros(3, dtype=mg.uint8)
        try:
            t[torch.tensor([True, False, True])] = torch.tensor(value, dtype=torch.float64)
        except RuntimeError:
            with pytest.raises(RuntimeError, match="without overflow"):
                x[mg.tensor([True, False, True])] = mg.tensor(value, dtype=mg.float64)
        else:
            x[mg.tensor([True, False, True])] = mg.tensor(value, dtype=mg.float64)
        assert x.tolist() == t.tolist(), value
    # the value's gradient still flows through a cast fill
    t, x = torch.zeros(3).requires_grad_(), mg.zeros(3).requires_grad_()
    v, w = torch.tensor(2.0, dtype=torch.float64, requires_grad=True), mg.tensor(2.0, dtype=mg.float64,
                                                                                 requires_grad=True)
    a, b = t * 1, x * 1
    a[torch.tensor([True, False, True])] = v
    b[mg.tensor([True, False, True])] = w
    (a * torch.arange(3.0)).sum().backward()
    (b * mg.arange(3.0)).sum().backward()
    assert b.tolist() == a.tolist() and w.grad.item() == v.grad.item() and w.grad.dtype == mg.float64


def _layouts():
    """(name, minigrad tensor, torch tensor) of the same values laid out transposed, permuted, channels-last,
    sliced channels-last and broadcast."""
    cases = {
        "transposed": lambda lib: lib.arange(6.0).reshape(3, 2).t(),
        "permuted": lambda lib: lib.arange(24.0).reshape(4, 3, 2).permute(2, 0, 1),
        "channels_last": lambda lib: _channels_last(lib, 2, 3, 4, 5),
        "channels_last_n1": lambda lib: _channels_last(lib, 1, 3, 2, 2),
        "sliced_channels_last": lambda lib: _channels_last(lib, 2, 3, 4, 10)[..., ::2],
        "expanded": lambda lib: lib.arange(3.0).expand(4, 3),
    }
    return [(name, case(mg), case(torch)) for name, case in cases.items()]


def _same_layout(ours, theirs, what):
    assert np.array_equal(ours.detach().numpy(), theirs.detach().numpy(), equal_nan=True), what
    assert ours.is_contiguous() == theirs.is_contiguous(), what
    # a size-1 dim's stride is a convention (README): compare the others
    assert [s for s, n in zip(ours.stride(), ours.shape) if n != 1] == \
        [s for s, n in zip(theirs.stride(), theirs.shape) if n != 1], what


_ALONG_A_DIM = {
    "cumsum": lambda lib, x, d: lib.cumsum(x, d), "cumprod": lambda lib, x, d: lib.cumprod(x, d),
    "logcumsumexp": lambda lib, x, d: lib.logcumsumexp(x, d), "prod": lambda lib, x, d: x.prod(d, keepdim=True),
    "sum": lambda lib, x, d: x.sum(d), "sum_keepdim": lambda lib, x, d: x.sum(d, keepdim=True),
    "mean_keepdim": lambda lib, x, d: x.mean(d, keepdim=True), "amax": lambda lib, x, d: x.amax(d, keepdim=True),
    "std": lambda lib, x, d: x.std(d, correction=0, keepdim=True), "var": lambda lib, x, d: x.var(d, correction=0),
    "logsumexp": lambda lib, x, d: x.logsumexp(d, keepdim=True), "all": lambda lib, x, d: x.all(d, keepdim=True),
    "softmax": lambda lib, x, d: lib.softmax(x, d), "log_softmax": lambda lib, x, d: lib.log_softmax(x, d),
    "nanmedian": lambda lib, x, d: x.nanmedian(d, keepdim=True)[0],
    "index_select": lambda lib, x, d: lib.index_select(x, d, lib.tensor([0, 0])),
    "sort": lambda lib, x, d: lib.sort(x, d, descending=True)[0], "sort_indices": lambda lib, x, d: lib.sort(x, d)[1],
    "argsort": lambda lib, x, d: lib.argsort(x, d, descending=True), "msort": lambda lib, x, d: lib.msort(x),
}


@pytest.mark.parametrize("op", _ALONG_A_DIM)
def test_reductions_scans_and_sorts_lay_out_as_torch(op):
    # the reductions, scans, softmax and index_select of a transposed or channels-last input kept NumPy's order of
    # strides (so .view(-1) of the result raised) where PyTorch's are C order; sort gave C order where PyTorch's
    # keeps the input's layout
    fn = _ALONG_A_DIM[op]
    for name, x, t in _layouts():
        if op == "nanmedian" and name == "expanded":
            continue   # PyTorch 2.13's nanmedian of a stride-0 input reads the wrong elements ([0, 0, 0] here)
        for d in range(t.ndim):
            got, expected = fn(mg, x, d), fn(torch, t, d)
            assert got.dtype == mg.float32 or str(got.dtype) == str(expected.dtype).removeprefix("torch."), op
            if got.dtype.kind == "f":   # (the layouts compared below, on values rounded alike)
                assert np.allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-6, equal_nan=True)
                got, expected = got.detach().round(decimals=3), expected.detach().round(decimals=3)
            _same_layout(got, expected, (name, d))
            if expected.is_contiguous():
                assert got.view(-1).shape == expected.view(-1).shape


def test_sort_of_a_transposed_input_keeps_its_gradient():
    x = mg.tensor([[3.0, 1.0, 2.0], [0.5, 5.0, 4.0]]).t().requires_grad_()
    t = torch.tensor([[3.0, 1.0, 2.0], [0.5, 5.0, 4.0]]).t().requires_grad_()
    weights = np.arange(6.0).reshape(3, 2)
    (mg.sort(x, 0)[0] * mg.tensor(weights, dtype=mg.float32)).sum().backward()
    (torch.sort(t, 0)[0] * torch.tensor(weights, dtype=torch.float32)).sum().backward()
    assert x.grad.tolist() == t.grad.tolist()


@pytest.mark.parametrize("perm_a, perm_b", [((1, 0, 2, 3), (1, 0, 2, 3)), ((1, 0, 3, 2), (0, 1, 2, 3)),
                                            ((0, 1, 2, 3), (1, 0, 2, 3)), ((2, 3, 1, 0), (3, 1, 0, 2))])
def test_batched_matmul_of_permuted_batches_is_c_ordered_as_torch(perm_a, perm_b):
    # NumPy's matmul kept the permuted batch dims' order of strides (.view(-1) raised; PyTorch's result is C order)
    def laid_out(lib, shape, perm):   # shape `shape`, its dims in memory in the order `perm`
        base = lib.arange(float(np.prod(shape))).reshape([shape[p] for p in perm])
        return base.permute(*np.argsort(perm).tolist())

    got = laid_out(mg, (2, 2, 3, 4), perm_a) @ laid_out(mg, (2, 2, 4, 5), perm_b)
    expected = laid_out(torch, (2, 2, 3, 4), perm_a) @ laid_out(torch, (2, 2, 4, 5), perm_b)
    _same_layout(got, expected, (perm_a, perm_b))
    assert got.view(-1).tolist() == expected.view(-1).tolist()


@pytest.mark.parametrize("dtype", ["bool_", "uint8", "int8", "int16", "int32", "int64", "float16", "float32"])
@pytest.mark.parametrize("other", [True, 2, 2.5, 1j, "float64_0d", "int16_0d", "float64_numpy"])
def test_result_type_says_what_the_arithmetic_gives(dtype, other):
    # mg.result_type(int32 tensor, 2.5) said float32 (PyTorch's rule) where int32 tensor + 2.5 is float64 here
    # (NumPy 2's promotion, DESIGN §3); promote_types and can_cast stay PyTorch's tables
    x = mg.zeros(3, dtype=getattr(mg, dtype))
    value = {"float64_0d": mg.tensor(1.0, dtype=mg.float64), "int16_0d": mg.tensor(1, dtype=mg.int16),
             "float64_numpy": np.float64(1.0)}.get(other, other)
    assert mg.result_type(x, value) == (x + value).dtype == mg.result_type(scalar=value, tensor=x)
    assert mg.promote_types(mg.int64, mg.float16) == mg.float16 and not mg.can_cast(mg.float64, mg.int64)


@pytest.mark.gpu
def test_the_layouts_and_casts_on_the_gpu():
    # the same code paths on CuPy (or the strict CuPy stand-in, tests/conftest.py)
    x = mg.arange(120.0, device="cuda").reshape(2, 4, 5, 3).permute(0, 3, 1, 2)
    t = torch.arange(120.0).reshape(2, 4, 5, 3).permute(0, 3, 1, 2)
    for ours, theirs in [(x.sum(1), t.sum(1)), (mg.cumsum(x, 2), torch.cumsum(t, 2)),
                         (mg.softmax(x, 1), torch.softmax(t, 1)), (mg.sort(x, 2)[0], torch.sort(t, 2)[0]),
                         (mg.index_select(x, 3, mg.tensor([0, 0], device="cuda")),
                          torch.index_select(t, 3, torch.tensor([0, 0]))),
                         (x.permute(1, 0, 2, 3) @ x.permute(1, 0, 3, 2),
                          t.permute(1, 0, 2, 3) @ t.permute(1, 0, 3, 2))]:
        assert ours.device.type == "cuda" and ours.is_contiguous() == theirs.is_contiguous()
        assert np.allclose(ours.cpu().numpy(), theirs.numpy())
    c = mg.arange(6.0, device="cuda").reshape(2, 1, 3, 1)
    c.to(memory_format=mg.channels_last).fill_(7.0)   # a copy: x itself unchanged
    assert c.tolist() == torch.arange(6.0).reshape(2, 1, 3, 1).tolist()
    written = mg.zeros(3, dtype=mg.uint8, device="cuda")
    written[:] = mg.tensor([3.5151007e9, -1.2654214700e10, 2.5], dtype=mg.float64, device="cuda")
    expected = torch.zeros(3, dtype=torch.uint8)
    expected[:] = torch.tensor([3.5151007e9, -1.2654214700e10, 2.5], dtype=torch.float64)
    assert written.tolist() == expected.tolist()
    with pytest.raises(RuntimeError, match="Index put requires"):
        written[[0, 1]] = mg.tensor([1.0, 2.0], device="cuda")
