"""Round 20: PyTorch 2.13's own docstring examples, run on minigrad beside torch.

The offline sweep (every ``Example::`` block of torch, torch.Tensor, nn, nn.functional, linalg, fft, special,
distributions, optim, nn.utils, autograd and func whose name minigrad has) found these; each test runs the
docstring's statements on both libraries and compares the results.
"""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.parametrize("hook_name", ["sgd_update", "identity", "other_tensor", "int"])
def test_post_accumulate_grad_hook_may_return_the_leaf(hook_name):
    """torch.Tensor.register_post_accumulate_grad_hook's docstring: ``lambda p: p.add_(p.grad, alpha=-lr)``
    returns the leaf itself, which PyTorch accepts; any other value is refused (TypeError/RuntimeError)."""
    def run(lib):
        hooks = {"sgd_update": lambda p: p.add_(p.grad, alpha=-0.01), "identity": lambda p: p,
                 "other_tensor": lambda p: p.detach(), "int": lambda p: 5}
        v = lib.tensor([0., 0., 0.], requires_grad=True)
        handle = v.register_post_accumulate_grad_hook(hooks[hook_name])
        try:
            v.backward(lib.tensor([1., 2., 3.]))
        except (RuntimeError, TypeError) as error:
            return type(error)
        finally:
            handle.remove()
        return v.detach().numpy().copy()

    ours, theirs = run(mg), run(torch)
    if isinstance(theirs, type):
        assert isinstance(ours, type) and issubclass(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def _assert_close_outcome(lib, actual, expected, **kwargs):
    try:
        lib.testing.assert_close(actual, expected, **kwargs)
    except (AssertionError, TypeError) as error:
        return type(error)
    return None


@pytest.mark.parametrize("case", ["fft2_check_stride_false", "stride_differs", "same_stride", "layout",
                                  "transposed_view", "subclass_refused", "nested"])
def test_testing_assert_close_takes_torch_keywords(case):
    """torch.fft.fft2's docstring calls ``torch.testing.assert_close(fft2, two_ffts, check_stride=False)``:
    assert_close takes PyTorch's allow_subclasses/check_layout/check_stride keywords and checks strides."""
    def run(lib):
        x = lib.tensor(np.arange(24.0, dtype=np.float32).reshape(4, 6))
        if case == "fft2_check_stride_false":
            fft2 = lib.fft.fft2(x)
            two_ffts = lib.fft.fft(lib.fft.fft(x, dim=0), dim=1)
            return _assert_close_outcome(lib, fft2, two_ffts, check_stride=False)
        if case == "stride_differs":
            return _assert_close_outcome(lib, x.t().contiguous(), x.t(), check_stride=True)
        if case == "same_stride":
            return _assert_close_outcome(lib, x, x.clone(), check_stride=True, check_layout=True)
        if case == "layout":
            return _assert_close_outcome(lib, x, x + 0, check_layout=False)
        if case == "transposed_view":
            return _assert_close_outcome(lib, lib.ones(1, 3), lib.ones(3, 1).t(), check_stride=True)
        if case == "subclass_refused":
            return _assert_close_outcome(lib, lib.nn.Parameter(x.clone()), x, allow_subclasses=False)
        return _assert_close_outcome(lib, [x, {"a": x}], [x.t().contiguous().t(), {"a": x}], check_stride=True)

    assert run(mg) is run(torch)


@pytest.mark.parametrize("case", ["numpy_vs_tensor", "tensor_vs_float", "float_vs_tensor", "tensor_vs_list",
                                  "numpy_vs_float", "int_vs_float", "numpy_pair", "float_pair", "list_pair"])
def test_testing_assert_close_pairs_types_as_torch(case):
    """torch.testing.assert_close's docstring: ``assert_close(actual.numpy(), expected)`` (an array against a
    Tensor) raises TypeError; a Tensor pairs only with a Tensor, an array with an array, and two Python numbers
    of different types fail the dtype check."""
    def run(lib):
        pairs = {"numpy_vs_tensor": (np.ones(2), lib.ones(2, dtype=lib.float64)),
                 "tensor_vs_float": (lib.tensor(1.0), 1.0), "float_vs_tensor": (1.0, lib.tensor(1.0)),
                 "tensor_vs_list": (lib.ones(2), [1.0, 1.0]), "numpy_vs_float": (np.ones(2), 1.0),
                 "int_vs_float": (1, 1.0), "numpy_pair": (np.ones(2), np.ones(2)), "float_pair": (1.0, 1.0),
                 "list_pair": ([1.0], [1.0])}
        return _assert_close_outcome(lib, *pairs[case])

    assert run(mg) is run(torch)


WINDOW_CASES = [("bartlett", {}), ("blackman", {}), ("cosine", {}), ("exponential", {}), ("exponential", {"tau": 0.5}),
                ("gaussian", {}), ("gaussian", {"std": 0.7}), ("general_cosine", {"a": [0.46, 0.23, 0.31]}),
                ("general_hamming", {}), ("general_hamming", {"alpha": 0.6}), ("hamming", {}), ("hann", {}),
                ("kaiser", {}), ("kaiser", {"beta": 3.3}), ("nuttall", {})]


@pytest.mark.parametrize("name,kwargs", WINDOW_CASES)
def test_signal_windows_match_torch(name, kwargs):
    """torch.signal.windows' docstring examples (``torch.signal.windows.hann(10, sym=False)`` …) had no
    counterpart: mg.signal.windows gives PyTorch's values, shapes and dtypes."""
    for M in (0, 1, 2, 7, 10):
        for sym in (True, False):
            for dtype in ("float32", "float64"):
                ours = getattr(mg.signal.windows, name)(M, sym=sym, dtype=getattr(mg, dtype), **kwargs)
                theirs = getattr(torch.signal.windows, name)(M, sym=sym, dtype=getattr(torch, dtype), **kwargs)
                assert ours.dtype == np.dtype(dtype) and tuple(ours.shape) == tuple(theirs.shape)
                tol = 1e-6 if dtype == "float32" else 1e-12
                np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=tol, atol=tol,
                                           err_msg=f"{name}({M}, sym={sym}, dtype={dtype})")


@pytest.mark.parametrize("call", ["hann(-1)", "hann(3, dtype=L.int64)", "gaussian(3, std=0)", "exponential(3, tau=0)",
                                  "exponential(3, center=1.0)", "general_cosine(3, a=[])", "general_cosine(3, a=3)",
                                  "kaiser(3, beta=-1)", "exponential(4, center=1.0, sym=False)",
                                  "hann(4, requires_grad=True)"])
def test_signal_windows_refuse_as_torch(call):
    def run(lib):
        try:
            out = eval("lib.signal.windows." + call, {"lib": lib, "L": lib})
        except (ValueError, TypeError) as error:
            return type(error)
        return out.detach().numpy().tolist(), out.requires_grad

    ours, theirs = run(mg), run(torch)
    if isinstance(theirs, type):
        assert ours is theirs
    else:
        np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6, atol=1e-7)
        assert ours[1] == theirs[1]


@pytest.mark.parametrize("nested", [False, True])
def test_vmap_of_autograd_grad_through_a_graph_recorded_outside(nested):
    """torch.vmap's docstring: ``vmap(lambda v: autograd.grad(y, x, v))(I_N)`` is the Jacobian of a ``y`` recorded
    outside; the loop here kept the graph for every example but the last (the first call freed it before), and the
    graph is freed after the call, as torch's one batched backward frees it."""
    def run(lib):
        x = lib.tensor(np.linspace(-1, 1, 6).astype(np.float32).reshape(2, 3), requires_grad=True)
        y = (x ** 3).sum(1) if nested else x[0] ** 2
        if nested:
            out = lib.vmap(lib.vmap(lambda v: lib.autograd.grad(y, x, v)[0]))(lib.eye(2).repeat(3, 1, 1))
        else:
            out = lib.vmap(lambda v: lib.autograd.grad(y, x, v)[0])(lib.eye(3))
        try:
            lib.autograd.grad(y, x, lib.ones_like(y))
            freed = False
        except RuntimeError:
            freed = True
        return out.detach().numpy(), freed

    (ours, ours_freed), (theirs, theirs_freed) = run(mg), run(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert ours_freed and theirs_freed


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int8", "uint8", "bool", "complex64"])
@pytest.mark.parametrize("kwargs", [{}, {"low": -2, "high": 3}, {"noncontiguous": True}, {"exclude_zero": True},
                                    {"low": -100, "high": 3}, {"low": 5, "high": 4}, {"requires_grad": True},
                                    {"low": float("nan")}])
def test_testing_make_tensor_as_torch(dtype, kwargs):
    """torch.testing.make_tensor (its docstring example: ``make_tensor((3,), device='cpu', dtype=torch.float32,
    low=-1, high=1)``) had no counterpart: mg.testing.make_tensor gives torch's dtype, shape, layout, value range
    and refusals (values are random in both)."""
    def run(lib):
        try:
            t = lib.testing.make_tensor(3, 4, dtype=getattr(lib, dtype), device="cpu", **kwargs)
        except (ValueError, TypeError) as error:
            return type(error)
        values = t.detach().numpy()
        parts = np.concatenate([values.real.ravel(), values.imag.ravel()]) if values.dtype.kind == "c" else values
        return (str(t.dtype).replace("torch.", ""), tuple(t.shape), t.is_contiguous(), t.requires_grad,
                bool((values != 0).all()) if kwargs.get("exclude_zero") else None,
                float(parts.min()) >= (kwargs.get("low", -9) if dtype not in ("uint8", "bool") else 0),
                float(parts.max()) < (kwargs.get("high", 10)))

    assert run(mg) == run(torch)
