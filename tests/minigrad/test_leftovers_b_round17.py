"""Round 17, leftovers (second batch): complex signed zeros and infinities, writes from real/imag views, igamma and
mvlgamma dtypes, out= of hardshrink/threshold, uninitialised parameters, extreme-input gradients; each against live
PyTorch."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")

_PARTS = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e308]


def _grid(dtype: str) -> np.ndarray:
    """The 8 x 8 grid of {±0, ±1, ±inf, nan, 1e308} real and imaginary parts (signs kept), flattened."""
    z = np.empty(64, dtype=dtype)
    z.real, z.imag = np.repeat(_PARTS, 8), np.tile(_PARTS, 8)
    return z


def _assert_same_bits(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal part by part: NaN where NaN, the sign of zeros and infinities, close elsewhere."""
    for a, b in ((ours.real, theirs.real), (ours.imag, theirs.imag)):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(a)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-6)
        np.testing.assert_array_equal(np.signbit(a[ok & (a == 0)]), np.signbit(b[ok & (b == 0)]))


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("name", ["sgn", "log1p"])
def test_complex_signed_zeros_and_infinities_as_torch(name, dtype):
    """sgn divides each part by |z| (sgn(-0+1j) = -0+1j, sgn(inf·1j) = 0+nan·1j); log1p keeps -0.0 parts and is
    NaN + NaN·1j where a part is NaN (both were built from magnitude + 1j·angle, losing the signs)."""
    z = _grid(dtype)
    ours = getattr(mg, name)(mg.tensor(z.copy())).numpy()
    theirs = getattr(torch, name)(torch.from_numpy(z.copy())).numpy()
    _assert_same_bits(ours, theirs)


_PART_WRITES = {
    "x[1] = x[1].real": lambda x: x.__setitem__(1, x[1].real),
    "x[:, 0].copy_(x[:, 0].real)": lambda x: x[:, 0].copy_(x[:, 0].real),
    "diagonal.copy_(diagonal.real)": lambda x: x.diagonal().copy_(x.diagonal().real),
    "x[0].copy_(x[0].imag)": lambda x: x[0].copy_(x[0].imag),
    "x.add_(x.real)": lambda x: x.add_(x.real),
    "x[0, 1] = x[0, 1].real": lambda x: x.__setitem__((0, 1), x[0, 1].real),
    "x[0, 1] = x[0].imag[1]": lambda x: x.__setitem__((0, 1), x[0].imag[1]),
}


@pytest.mark.parametrize("case", list(_PART_WRITES))
def test_write_from_a_real_or_imag_view_of_the_same_elements(case):
    """Each element reads its own real/imaginary part: PyTorch does it; one element (a 0-d part) PyTorch's memory
    check sees as a partial overlap and refuses with a RuntimeError (ours did it)."""
    results = []
    for lib in (torch, mg):
        x = lib.tensor([[1 + 2j, 3 + 4j], [5 + 6j, 7 + 8j]])
        try:
            _PART_WRITES[case](x)
            results.append(x.numpy().tolist())
        except RuntimeError as error:
            results.append(("RuntimeError", "single memory location" in str(error)))
    assert results[1] == results[0]


_INTEGER_GAMMA_CALLS = {
    "igamma(int, int)": (lambda lib: lib.igamma(lib.tensor([1, 2]), lib.tensor([1, 3])), NotImplementedError),
    "igammac(bool, bool)": (lambda lib: lib.igammac(lib.tensor([True]), lib.tensor([True])), NotImplementedError),
    "special.gammainc(int, int)": (lambda lib: lib.special.gammainc(lib.tensor([1]), lib.tensor([2])),
                                   NotImplementedError),
    "int.igamma_(int)": (lambda lib: lib.tensor([1, 2]).igamma_(lib.tensor([1, 3])), NotImplementedError),
    "mvlgamma(bool)": (lambda lib: lib.mvlgamma(lib.tensor([True]), 1), RuntimeError),
    "special.multigammaln(bool)": (lambda lib: lib.special.multigammaln(lib.tensor([True, False]), 2), RuntimeError),
}


@pytest.mark.parametrize("case", list(_INTEGER_GAMMA_CALLS))
def test_incomplete_gamma_of_integers_and_mvlgamma_of_bools_raise(case):
    """PyTorch has no igamma kernel for integer or bool operands and refuses a bool mvlgamma input; ours returned
    float values. (An integer tensor beside a float one is promoted, in both.)"""
    call, error = _INTEGER_GAMMA_CALLS[case]
    with pytest.raises(error):
        call(torch)
    with pytest.raises(error):
        call(mg)
    ours, theirs = (lib.igamma(lib.tensor([1, 2]), lib.tensor(3.0)) for lib in (mg, torch))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["hardshrink", "threshold"])
@pytest.mark.parametrize("out_dtype", ["float32", "float64", "int64"])
def test_hardshrink_and_threshold_take_out(name, out_dtype):
    """torch.hardshrink/threshold take out= (hardshrink's of the result's dtype, threshold's a cast); ours
    refused the keyword with a TypeError."""
    results = []
    for lib in (torch, mg):
        x, out = lib.tensor([-1.0, 0.2, 3.0]), lib.zeros(3, dtype=getattr(lib, out_dtype))
        args = (0.5,) if name == "hardshrink" else (0.5, 9.0)
        try:
            returned = getattr(lib, name)(x, *args, out=out)
            results.append((returned is out, out.numpy().tolist()))
        except RuntimeError:
            results.append("RuntimeError")
    assert results[1] == results[0]


_PLACEHOLDER_CALLS = {
    "weight + 1": lambda lib, m: m.weight + 1,
    "weight.sum()": lambda lib, m: m.weight.sum(),
    "weight.mean()": lambda lib, m: m.weight.mean(),
    "weight[:]": lambda lib, m: m.weight[:],
    "weight.tolist()": lambda lib, m: m.weight.tolist(),
    "weight.clone()": lambda lib, m: m.weight.clone(),
    "weight == weight": lambda lib, m: m.weight == m.weight,
    "sum of parameters": lambda lib, m: sum(p.sum() for p in m.parameters()),
}


@pytest.mark.parametrize("case", list(_PLACEHOLDER_CALLS))
def test_an_uninitialized_parameter_refuses_ops_as_torch(case):
    """A lazy module's placeholder raises PyTorch's ValueError on a Tensor method or operator; ours computed on
    the empty (0,) tensor (an empty result, or 0.0 for a sum)."""
    for lib in (torch, mg):
        with pytest.raises(ValueError, match="uninitialized parameter"):
            _PLACEHOLDER_CALLS[case](lib, lib.nn.LazyLinear(3))


def test_the_state_dict_of_a_lazy_module_holds_its_placeholders():
    """PyTorch's lazy modules save each placeholder itself (ours: a detached empty tensor); allowed methods
    (dtype casts, copy_) still work, and the first call materializes the same objects."""
    names = []
    for lib in (torch, mg):
        model = lib.nn.Sequential(lib.nn.LazyLinear(3), lib.nn.LazyBatchNorm1d())
        names.append([type(value).__name__ for value in model.state_dict().values()])
        model.double()
        names[-1] += [type(model[0].weight).__name__, str(model[0].weight.dtype).removeprefix("torch."),
                      tuple(model(lib.ones(2, 4, dtype=lib.float64)).shape), type(model[0].weight).__name__]
    assert names[1] == names[0]


@pytest.mark.gpu
def test_complex_sgn_log1p_and_part_writes_on_the_gpu():
    """The same signed parts on the device (the strict CuPy stand-in without one), and the part-view write."""
    z = _grid("complex64")
    for name in ("sgn", "log1p"):
        on_device = getattr(mg, name)(mg.tensor(z.copy()).to("cuda")).cpu().numpy()
        _assert_same_bits(on_device, getattr(mg, name)(mg.tensor(z.copy())).numpy())
    x = mg.tensor([[1 + 2j, 3 + 4j], [5 + 6j, 7 + 8j]]).to("cuda")
    x[1] = x[1].real
    x.diagonal().copy_(x.diagonal().imag)
    assert x.cpu().numpy().tolist() == [[2, 3 + 4j], [5, 0]]
