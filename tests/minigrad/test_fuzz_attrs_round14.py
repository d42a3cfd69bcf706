"""Layout attributes (stride, storage_offset, data_ptr, is_contiguous, is_set_to …) and dtype promotion, fuzzed
against PyTorch over random chains of views."""

import itertools
import random

import numpy as np
import pytest

import minigrad as mg
from minigrad.dtypes import torch_result_type

torch = pytest.importorskip("torch", reason="no torch")

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "complex64",
          "complex128"]


def _pair(shape, dtype="float32"):
    array = (np.arange(int(np.prod(shape))) % 7).astype(dtype).reshape(shape)
    return torch.tensor(array.copy()), mg.tensor(array.copy())


def test_unfold_keeps_the_storage_offset():
    # was: 0 (NumPy's as_strided hides the base behind a holder object)
    for lib in (torch, mg):
        x = lib.arange(12.0)
        assert x[2:].unfold(0, 3, 2).storage_offset() == 2
        assert x[3:].as_strided((2,), (1,), 5).unfold(0, 1, 1).storage_offset() == 5
        u = x.reshape(3, 4)[1:].unfold(1, 2, 1)
        assert u.data_ptr() - x.data_ptr() == u.storage_offset() * u.element_size() == 16


def test_new_size1_dims_have_pytorchs_strides():
    t, m = _pair((3, 4))
    for view in (lambda x: x[None], lambda x: x[:, None], lambda x: x[..., None], lambda x: x[None, ..., None],
                 lambda x: x.expand(1, 3, 4), lambda x: x.expand(2, 1, 3, 4), lambda x: x.t()[None]):
        assert view(m).stride() == view(t).stride()   # was (0, 4, 1) for x[None]
    assert m[:, None].stride(1) == t[:, None].stride(1) == 4
    assert m[None].dim_order() == t[None].dim_order()


def test_is_set_to():
    t, m = _pair((3, 4))
    for x in (t, m):
        lib = torch if x is t else mg
        assert x.is_set_to(x) and x.is_set_to(x[:]) and x[1:].is_set_to(x[1:]) and x.is_set_to(x.detach())
        assert x.is_set_to(x.view(lib.int32))   # the dtype is not compared, as PyTorch
        assert not (x.is_set_to(x.clone()) or x.is_set_to(x.t()) or x.is_set_to(x.view(12)) or x.is_set_to(x[1:]))
        with pytest.raises(TypeError, match="is_set_to"):
            x.is_set_to(3)


def _step(rng, t, m):
    """One random view, applied to both; None when it does not apply."""
    d, shape = t.dim(), tuple(t.shape)
    op = rng.choice(["slice", "transpose", "permute", "narrow", "select", "unsqueeze", "squeeze", "expand",
                     "diagonal", "unfold", "none", "view", "mT", "as_strided", "movedim"])
    if d == 0 and op not in ("unsqueeze", "none", "view", "as_strided"):
        return None
    dim = rng.randrange(d) if d else 0
    if op == "slice":
        a = rng.randint(0, shape[dim])
        index = (slice(None),) * dim + (slice(a, rng.randint(a, shape[dim]), rng.randint(1, 3)),)
        return t[index], m[index]
    if op in ("transpose", "movedim"):
        other = rng.randrange(d)
        return getattr(t, op)(dim, other), getattr(m, op)(dim, other)
    if op == "permute":
        order = list(range(d))
        rng.shuffle(order)
        return t.permute(*order), m.permute(*order)
    if op == "narrow":
        start = rng.randint(0, shape[dim])
        length = rng.randint(0, shape[dim] - start)
        return t.narrow(dim, start, length), m.narrow(dim, start, length)
    if op == "select":
        if shape[dim] == 0:
            return None
        i = rng.randint(-shape[dim], shape[dim] - 1)
        return t.select(dim, i), m.select(dim, i)
    if op == "unsqueeze":
        dim = rng.randint(-d - 1, d)
        return t.unsqueeze(dim), m.unsqueeze(dim)
    if op == "squeeze":
        return t.squeeze(dim), m.squeeze(dim)
    if op == "expand":
        new = [rng.randint(1, 3)] + [rng.randint(0, 3) if n == 1 else n for n in shape]
        return t.expand(*new), m.expand(*new)
    if op == "diagonal":
        if d < 2:
            return None
        other = (dim + rng.randint(1, d - 1)) % d
        offset = rng.randint(-2, 2)
        return t.diagonal(offset, dim, other), m.diagonal(offset, dim, other)
    if op == "unfold":
        size, step = rng.randint(0, shape[dim]), rng.randint(1, 3)
        return t.unfold(dim, size, step), m.unfold(dim, size, step)
    if op == "none":
        index = rng.choice([(None,), (Ellipsis, None), (None, Ellipsis, None), (Ellipsis,)])
        return t[index], m[index]
    if op == "view":
        if not t.is_contiguous():
            return None
        return t.view(-1), m.view(-1)
    if op == "mT":
        return (t.mT, m.mT) if d >= 2 else None
    # as_strided into the tensor's storage
    n = t.untyped_storage().nbytes() // t.element_size()
    size = [rng.randint(1, 3) for _ in range(rng.randint(0, 3))]
    stride = [rng.randint(1, 3) for _ in size]
    offset = rng.randint(0, max(n - 1, 0))
    if n == 0 or offset + sum((a - 1) * b for a, b in zip(size, stride)) >= n:
        return None
    return t.as_strided(size, stride, offset), m.as_strided(size, stride, offset)


def _attributes(x, base, lib):
    out = {"shape": tuple(x.shape), "size": tuple(x.size()), "dim": x.dim(), "ndim": x.ndim, "numel": x.numel(),
           "nelement": x.nelement(), "element_size": x.element_size(), "itemsize": x.itemsize, "nbytes": x.nbytes,
           "float": x.is_floating_point(), "complex": x.is_complex(), "signed": x.is_signed(),
           "contiguous": x.is_contiguous(), "storage": x.untyped_storage().nbytes(),
           "same_size": x.is_same_size(base), "values": np.asarray(x.cpu().numpy()).tolist()}
    if x.numel():   # an empty tensor's strides and address are NumPy's and PyTorch's own business
        out["offset"] = x.storage_offset()
        out["ptr"] = x.data_ptr() - base.data_ptr()
        out["stride"] = tuple(s for s, n in zip(x.stride(), x.shape) if n != 1)
        if x.dim() == 4:
            out["channels_last"] = x.is_contiguous(memory_format=lib.channels_last)
    return out


def test_view_chains_match_pytorch():
    rng = random.Random(14)
    for _ in range(250):
        dtype = rng.choice(DTYPES)
        shape = tuple(rng.randint(0, 4) if rng.random() < 0.1 else rng.randint(1, 4) for _ in range(rng.randint(0, 4)))
        t, m = _pair(shape, dtype)
        base_t, base_m, chain = t, m, []
        for _ in range(rng.randint(1, 4)):
            views = _step(rng, t, m)
            if views is None:
                continue
            t, m = views
            chain.append(tuple(t.shape))
            assert _attributes(m, base_m, mg) == _attributes(t, base_t, torch), (dtype, shape, chain)
            if m.numel():   # the attributes rebuild the view
                again = base_m.as_strided(m.size(), m.stride(), m.storage_offset())
                assert again.tolist() == m.tolist(), (dtype, shape, chain)


def _outcome(fn, *args):
    """The dtype's name (or a bool) ``fn(*args)`` gives, or the class name of what it raises."""
    try:
        result = fn(*args)
    except (RuntimeError, TypeError) as error:
        return type(error).__name__
    return result if isinstance(result, bool) else str(result).replace("torch.", "")


def test_dtype_predicates_and_promotion_match_pytorch():
    names = DTYPES + ["uint16", "uint32", "uint64"]
    for a, b in itertools.product(names, names):
        ta, tb, ma, mb = getattr(torch, a), getattr(torch, b), getattr(mg, a), getattr(mg, b)
        for fn in ("promote_types", "can_cast"):
            assert _outcome(getattr(mg, fn), ma, mb) == _outcome(getattr(torch, fn), ta, tb), (a, b)
        for tshape in ((2,), ()):
            want = _outcome(torch.result_type, torch.zeros(2, dtype=ta), torch.zeros(tshape, dtype=tb))
            if want == "complex32":   # NumPy has no complex32: a clear error, not another dtype
                with pytest.raises(TypeError, match="complex32"):
                    torch_result_type(mg.zeros(2, dtype=ma), mg.zeros(tshape, dtype=mb))
                continue
            got = _outcome(torch_result_type, mg.zeros(2, dtype=ma), mg.zeros(tshape, dtype=mb))
            assert got == want, (a, b, tshape)
            # the public mg.result_type is what minigrad's arithmetic gives (NumPy 2's promotion, DESIGN §3)
            x, y = mg.zeros(2, dtype=ma), mg.zeros(tshape, dtype=mb)
            assert _outcome(mg.result_type, x, y) == _outcome(lambda x=x, y=y: (x + y).dtype), (a, b, tshape)
    for name in DTYPES:
        t, m = torch.zeros(2, dtype=getattr(torch, name)), mg.zeros(2, dtype=getattr(mg, name))
        assert (m.is_floating_point(), m.is_complex(), m.is_signed(), m.itemsize) == \
            (t.is_floating_point(), t.is_complex(), t.is_signed(), t.itemsize)
        for scalar in (True, 2, -3, 2.5, 1j, 2 ** 40, float("inf")):
            want = _outcome(torch.result_type, t, scalar)
            expected = "TypeError" if want == "complex32" else want
            assert _outcome(torch_result_type, m, scalar) == expected, (name, scalar)
            assert _outcome(mg.result_type, m, scalar) == _outcome(lambda m=m, s=scalar: (m + s).dtype), (name, scalar)


def test_dim_order_ambiguity_check_as_pytorch():
    def outcome(lib, make, check):
        try:
            return make(lib).dim_order(ambiguity_check=check(lib))
        except (RuntimeError, TypeError) as error:
            return type(error).__name__

    cases = [
        (lambda lib: lib.zeros(2, 3, 4, 5), lambda lib: [lib.channels_last]),   # was RuntimeError: order is unique
        (lambda lib: lib.zeros(2, 3, 4, 5), lambda lib: []),                     # was RuntimeError
        (lambda lib: lib.zeros(2, 1, 3), lambda lib: True),                      # was (0, 1, 2): a size-1 dim
        (lambda lib: lib.zeros(2, 1, 4, 5), lambda lib: [lib.contiguous_format]),   # was (0, 1, 2, 3)
        (lambda lib: lib.zeros(2, 1, 4, 5), lambda lib: [lib.channels_last]),
        (lambda lib: lib.zeros(2, 3, 4, 5), lambda lib: True),
        (lambda lib: lib.zeros(2, 3, 4, 5).permute(0, 2, 3, 1), lambda lib: [lib.channels_last]),
        (lambda lib: lib.zeros(2, 3, 4).permute(2, 0, 1), lambda lib: True),
        (lambda lib: lib.zeros(3, 3).expand(2, 3, 3), lambda lib: True),
        (lambda lib: lib.zeros(4, 4)[:, ::2], lambda lib: True),
        (lambda lib: lib.zeros(2, 3, 4, 5), lambda lib: [lib.channels_last, 3]),
        (lambda lib: lib.zeros(2, 3, 4, 5), lambda lib: (1,)),
    ]
    for make, check in cases:
        assert outcome(mg, make, check) == outcome(torch, make, check)


def test_from_numpy_of_a_view_starts_its_memory_at_the_view(torch) -> None:
    """PyTorch's storage of ``from_numpy(a[1:])`` starts at the view: storage_offset() is 0 and as_strided reads
    from there (minigrad read the memory before the view: [0, 1] for [4, 5])."""
    a = np.arange(12.0).reshape(3, 4)
    for make in ("from_numpy", "as_tensor"):
        ours, theirs = getattr(mg, make)(a[1:]), getattr(torch, make)(a[1:])
        assert ours.storage_offset() == theirs.storage_offset() == 0
        assert ours.as_strided((2,), (1,), 0).tolist() == theirs.as_strided((2,), (1,), 0).tolist()
        ours[0, 0] = 100.0   # still the same memory
        assert a[1, 0] == 100.0
        a[1, 0] = 4.0
