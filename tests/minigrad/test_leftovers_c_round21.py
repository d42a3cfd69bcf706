"""Round 21 leftovers, batch C: vmap under no_grad with enable_grad inside, jacfwd/hessian zeros, cuda.Stream's
device and priority, Python lists as tensor-op operands, Tensor(-1) and ``del x.name``; each compared with torch."""

from __future__ import annotations

import types
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or the class of the error it raised."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - the class is compared
        return type(error)


# --- 1. vmap under no_grad, with enable_grad inside the function -------------------------------------------------

def _enable_inside(lib: Any) -> Callable:
    def f(v: Any) -> Any:
        with lib.enable_grad():
            return v * v
    return f


def _enable_inside_sum(lib: Any) -> Callable:
    def f(v: Any) -> Any:
        with lib.enable_grad():
            return (v.sin() * v).sum()
    return f


def _no_enable(lib: Any) -> Callable:
    return lambda v: v * 2


def _enable_inside_unmapped(lib: Any) -> Callable:
    def f(v: Any, w: Any) -> Any:
        with lib.enable_grad():
            return v * w
    return f


VMAP_NO_GRAD = {
    "enable_grad inside": (_enable_inside, (0,), [(3,)]),
    "enable_grad inside, sum": (_enable_inside_sum, (0,), [(3, 2)]),
    "enable_grad inside, in_dims 1": (_enable_inside_sum, (1,), [(2, 3)]),
    "no enable_grad": (_no_enable, (0,), [(3,)]),
    "enable_grad inside, unmapped input": (_enable_inside_unmapped, (0, None), [(3,), ()]),
    "enable_grad inside, empty batch": (_enable_inside, (0,), [(0, 3)]),
    "no enable_grad, empty batch": (_no_enable, (0,), [(0, 3)]),
}


@pytest.mark.parametrize("case", list(VMAP_NO_GRAD))
def test_vmap_under_no_grad_records_what_an_enable_grad_inside_records_as_torch(case: str) -> None:
    # minigrad sliced and stacked under the caller's no_grad: the result had no grad_fn and backward raised
    make, in_dims, shapes = VMAP_NO_GRAD[case]
    rng = np.random.default_rng(3)
    values = [rng.standard_normal(shape) for shape in shapes]
    results = []
    for lib in (mg, torch):
        inputs = [lib.tensor(v, requires_grad=True) for v in values]
        with lib.no_grad():
            out = lib.func.vmap(make(lib), in_dims=in_dims)(*inputs)
        grads = None
        if out.requires_grad:
            grads = lib.autograd.grad(out.sum(), inputs, allow_unused=True)
            grads = [None if g is None else g.detach().numpy() for g in grads]
        results.append((out.detach().numpy(), out.requires_grad, out.grad_fn is not None, grads))
    (ours, ours_rg, ours_fn, ours_grads), (theirs, theirs_rg, theirs_fn, theirs_grads) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert (ours_rg, ours_fn) == (theirs_rg, theirs_fn)
    if theirs_grads is not None:
        for g_ours, g_theirs in zip(ours_grads, theirs_grads):
            assert (g_ours is None) == (g_theirs is None)
            if g_theirs is not None:
                np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-12)


def test_vmap_under_inference_mode_records_nothing_as_torch() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.inference_mode():
        out = mg.func.vmap(_enable_inside(mg))(x)
    assert not out.requires_grad


# --- 3. cuda.Stream(device=, priority=) on a stand-in of CuPy's stream API -----------------------------------------

class _FakeGpus:
    """CuPy's cuda namespace for two GPUs: Device (a context manager switching the current GPU), runtime's
    device count, and streams that remember the GPU current when made (``device_id``) and their priority,
    refusing to be entered on another GPU as CuPy's do."""

    def __init__(self) -> None:
        self.current = 0
        self.asked: list = []   # the device_id of each get_current_stream call
        fake = self

        class Device:
            def __init__(self, device: int | None = None) -> None:
                self.id = fake.current if device is None else device
                self.before: list = []

            def __enter__(self) -> Any:
                self.before.append(fake.current)
                fake.current = self.id
                return self

            def __exit__(self, *exc: Any) -> None:
                fake.current = self.before.pop()

            def use(self) -> None:
                fake.current = self.id

        class Stream:
            null: Any = None

            def __init__(self, null: bool = False, non_blocking: bool = False, ptds: bool = False,
                         priority: int | None = None) -> None:
                self.ptr, self.device_id = (0, -1) if null else (id(self), fake.current)
                self.priority = priority or 0
                self.entered_on: list = []

            def __enter__(self) -> Any:
                if self.device_id not in (-1, fake.current):
                    raise RuntimeError(f"The device that the stream is created on ({self.device_id}) does not "
                                       f"match with the current device ({fake.current})")
                self.entered_on.append(fake.current)
                return self

            def __exit__(self, *exc: Any) -> None:
                return None

        def get_current_stream(device_id: int = -1) -> Any:
            fake.asked.append(device_id)
            return Stream.null

        Stream.null = Stream(null=True)
        self.cuda = types.SimpleNamespace(Device=Device, Stream=Stream, get_current_stream=get_current_stream,
                                          runtime=types.SimpleNamespace(getDeviceCount=lambda: 2))


def test_cuda_stream_honours_device_and_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    # mg.cuda.Stream(device=1) made its stream on the current GPU, reported the current GPU as its device, and
    # never passed priority to CuPy
    fake = _FakeGpus()
    monkeypatch.setattr(mg.backend, "cupy_module", lambda required=True: fake)
    here = mg.cuda.Stream()
    assert here._stream.device_id == 0 and here.device == "cuda:0"
    for device in (1, "cuda:1", mg.device("cuda:1")):
        side = mg.cuda.Stream(device=device, priority=-1)
        assert side._stream.device_id == 1 and side._stream.priority == -1 and side.priority == -1
        assert side.device == "cuda:1" and fake.current == 0
    with mg.cuda.stream(side):   # its GPU is current inside, as torch's (CuPy refuses the stream on another)
        assert fake.current == 1
    assert fake.current == 0 and side._stream.entered_on == [1]
    assert mg.cuda.Stream(device=-1).device == "cuda:0" == mg.cuda.Stream(device="cuda").device
    assert mg.cuda.current_stream().device == "cuda:0"   # the null stream: the current GPU
    # current_stream(device) and default_stream(device) ignored device too
    assert mg.cuda.current_stream(1).device == "cuda:1" and fake.asked[-1] == 1
    assert mg.cuda.default_stream("cuda:1").device == "cuda:1" and mg.cuda.default_stream().device == "cuda:0"
    with pytest.raises(ValueError, match="expected a cuda device"):
        mg.cuda.Stream(device="cpu")
    with pytest.raises(RuntimeError, match="only 2 CUDA device"):
        mg.cuda.Stream(device=2)


# --- 2. jacfwd/hessian results that are zeros: requires_grad and the gradient through them as torch's ----------------

_W = np.random.default_rng(5).standard_normal((2, 3))


def _linear(lib: Any) -> Any:
    """A Linear(3, 2) in float64 with weight ``_W`` and a zero bias (made once per library: a draw inside a
    transform raises)."""
    module = _LINEARS.get(lib.__name__)
    if module is None:
        module = _LINEARS[lib.__name__] = (torch.nn.Linear if lib is torch else nn.Linear)(3, 2, dtype=lib.float64)
        with lib.no_grad():
            module.weight.copy_(lib.tensor(_W))
            module.bias.zero_()
    return module


_LINEARS: dict = {}


def _numpy(tensor: Any) -> np.ndarray:
    """The values of a minigrad or torch tensor (a torch ZeroTensor, as its zeros)."""
    if isinstance(tensor, torch.Tensor) and tensor._is_zerotensor():
        return np.zeros(tuple(tensor.shape))
    return tensor.detach().numpy()


def _gav_of_jacfwd(lib: Any, x: Any) -> Any:
    def f(y: Any) -> Any:
        return y * y.detach().cos()
    gradient, value = lib.func.grad_and_value(lambda y: lib.func.jacfwd(f)(y).sum())(x)
    return gradient * value


JACOBIAN_ZEROS = {
    # ours: requires grad through the weight only, a backward to x gave None (torch: zeros)
    "jacfwd of a Linear": lambda lib, x: lib.func.jacfwd(_linear(lib))(x),
    "jacfwd of a Linear, vmapped": lambda lib, x: lib.func.jacfwd(lib.func.vmap(_linear(lib)))(x[None]),
    # ours: the zero Hessian required grad (torch's: a zero without a graph)
    "hessian of a Linear's sum": lambda lib, x: lib.func.hessian(lambda y: _linear(lib)(y).sum())(x),
    "hessian of a Linear's sum, x constant": lambda lib, x: lib.func.hessian(lambda y: _linear(lib)(y).sum())(
        x.detach()),
    # ours: jacfwd nested in grad_and_value did not link its Jacobian to the input (the product did not require grad)
    "grad_and_value of jacfwd": _gav_of_jacfwd,
}


@pytest.fixture(scope="module")
def torch_func_loaded() -> None:
    """torch's first jacfwd in a process spends seconds on its lazy imports: spent here, outside the test's call."""
    torch.func.jacfwd(torch.nn.Linear(1, 1))(torch.ones(1))


@pytest.mark.parametrize("case", list(JACOBIAN_ZEROS))
def test_zero_jacobians_require_grad_and_pass_zeros_as_torch(case: str, torch_func_loaded: None) -> None:
    x_values = np.array([0.3, -0.5, 1.1])
    results = []
    for lib in (mg, torch):
        _linear(lib)
        x = lib.tensor(x_values, requires_grad=True)
        out = JACOBIAN_ZEROS[case](lib, x)
        gx = None
        if out.requires_grad:
            gx, = lib.autograd.grad(out.sum(), x, allow_unused=True)
            gx = None if gx is None else _numpy(gx)
        results.append((_numpy(out), out.requires_grad, gx))
    (ours, ours_rg, ours_gx), (theirs, theirs_rg, theirs_gx) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert ours_rg == theirs_rg
    assert (ours_gx is None) == (theirs_gx is None)
    if theirs_gx is not None:
        np.testing.assert_array_equal(ours_gx, theirs_gx)


# --- 4. a Python list or tuple as an operand of a tensor op: TypeError, as torch's ---------------------------------

LIST_OPERANDS = {
    "x.eq([1, 2])": lambda lib, x: x.eq([1, 2]),
    "x.ne((1, 2))": lambda lib, x: x.ne((1, 2)),
    "x < [1, 2]": lambda lib, x: x < [1, 2],
    "x + [1, 2]": lambda lib, x: x + [1, 2],
    "[1, 2] - x": lambda lib, x: [1, 2] - x,
    "x * [[1, 2]]": lambda lib, x: x * [[1, 2]],
    "x @ [1, 2]": lambda lib, x: x @ [1, 2],
    "x ** [1, 2]": lambda lib, x: x ** [1, 2],
    "add(x, [1, 2])": lambda lib, x: lib.add(x, [1, 2]),
    "add([1, 2], x)": lambda lib, x: lib.add([1, 2], x),
    "x.add_([1, 2])": lambda lib, x: x.add_([1, 2]),
    "x += [1, 2]": lambda lib, x: x.__iadd__([1, 2]) if lib is mg else x.__add__([1, 2]),
    "maximum(x, [1, 2])": lambda lib, x: lib.maximum(x, [1, 2]),
    "where(x > 0, x, [1, 2])": lambda lib, x: lib.where(x > 0, x, [1, 2]),
    "x.masked_fill(x > 0, [1])": lambda lib, x: x.masked_fill(x > 0, [1]),
    "x.div((1, 2))": lambda lib, x: x.div((1, 2)),
}


@pytest.mark.parametrize("case", list(LIST_OPERANDS))
def test_a_list_operand_is_refused_as_torch(case: str) -> None:
    call = LIST_OPERANDS[case]
    expected = _outcome(lambda: call(torch, torch.tensor([1.0, 2.0])))
    if expected is NotImplemented:   # an operator method: Python then raises TypeError
        expected = TypeError
    assert expected is TypeError
    assert _outcome(lambda: call(mg, mg.tensor([1.0, 2.0]))) is TypeError


def test_equality_with_a_list_stays_false_and_scalars_still_work() -> None:
    x = mg.tensor([1.0, 2.0])
    assert (x == [1, 2]) is False and (x != [1, 2]) is True
    assert (x + 1).tolist() == [2.0, 3.0] and x.eq(1.0).tolist() == [True, False]
    assert (x + np.array([1.0, 2.0])).tolist() == [2.0, 4.0]   # a NumPy array is an operand (minigrad's choice)


# --- 5. Tensor(-1), del x.name ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(-1,), (2, -1), (-3, 2)])
def test_legacy_constructor_with_a_negative_size_raises_torchs_runtime_error(shape: tuple) -> None:
    # ours: ValueError only
    assert _outcome(lambda: torch.Tensor(*shape)) is RuntimeError
    with pytest.raises(RuntimeError, match="negative dimension") as error:
        mg.Tensor(*shape)
    assert isinstance(error.value, ValueError)   # the class it raised before, kept


def test_deleting_a_tensors_name_is_not_refused() -> None:
    # torch's name cannot be deleted (AttributeError); minigrad's del x.name is not refused (a Tensor.__delattr__
    # slowed every attribute assignment ~10x): the label goes, and reading it raises until it is set again
    assert _outcome(lambda: delattr(torch.ones(2), "name")) is AttributeError
    x = mg.ones(2)
    x.name = "weights"
    del x.name
    with pytest.raises(AttributeError, match="name"):
        x.name  # noqa: B018 - the read is the test
    x.name = None
    assert x.name is None and (x * 2).tolist() == [2.0, 2.0]
    x.foo = 1
    del x.foo
    assert not hasattr(x, "foo")
