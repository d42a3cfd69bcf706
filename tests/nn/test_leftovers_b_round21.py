"""Round 21, leftovers B: modules and small API gaps, each compared with torch (fuzzers: /tmp/fuzz21_b*.py).

In-place ops on the inputs and outputs of a module call with backward hooks, the registration hooks a
container's deletion runs, ``t.data = ...`` assignments, float16 refusals, and small API gaps."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


def _outcome(call: Callable[[], Any]) -> type | None:
    """None, or the class of the error ``call`` raised."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the class is compared
        return type(error)
    return None


def _same_outcome(ours: Callable[[], Any], theirs: Callable[[], Any]) -> None:
    """Both succeed, or ours raises an instance of the (builtin) class torch's raises."""
    expected, got = _outcome(theirs), _outcome(ours)
    assert (got is None) == (expected is None), (got, expected)
    assert expected is None or issubclass(got, expected), (got, expected)


# --- 1. in-place on a hooked module's inputs and outputs ---------------------------------------------------------

def _hooked_calls(lib: Any) -> dict:
    """Each case: a call with a full backward hook (or pre-hook) and an in-place op on an input or output."""
    lnn = lib.nn

    class Triple(lnn.Module):
        def forward(self, x: Any) -> Any:
            return x * 3

    class Pair(lnn.Module):
        def forward(self, x: Any) -> Any:
            return x * 2, x * 3

    class AddsInPlace(lnn.Module):
        def forward(self, x: Any) -> Any:
            x.add_(1)
            return x * 3

    def hooked(module: Any, pre: bool = False) -> Any:
        if pre:
            module.register_full_backward_pre_hook(lambda *args: None)
        else:
            module.register_full_backward_hook(lambda *args: None)
        return module

    x = lib.ones(3, requires_grad=True)

    def global_hook() -> None:
        handle = lnn.modules.module.register_module_full_backward_hook(lambda *args: None)
        try:
            Triple()(x * 1).add_(1)
        finally:
            handle.remove()

    def relu_in_sequential() -> None:
        model = lnn.Sequential(lnn.Linear(3, 3), lnn.ReLU(inplace=True))
        hooked(model[0])
        model(x * 1).sum().backward()

    def relu_in_hooked_sequential() -> None:   # the hooks watch the Sequential: ReLU writes its Linear's output
        model = hooked(lnn.Sequential(lnn.Linear(3, 3), lnn.ReLU(inplace=True)))
        model(x * 1).sum().backward()

    def forward_hook_only() -> None:   # no backward hook: no hook op, the output is an ordinary tensor
        module = Triple()
        module.register_forward_hook(lambda *args: None)
        module(x * 1).add_(1)

    def input_changed_after() -> None:   # outside the call: PyTorch's input is not the hook op's output
        a = x * 1
        y = hooked(Triple())(a)
        a.mul_(2)
        y.sum().backward()

    return {
        "output add_": lambda: hooked(Triple())(x * 1).add_(1),
        "output mul_": lambda: hooked(Triple())(x * 1).mul_(2),
        "output zero_": lambda: hooked(Triple())(x * 1).zero_(),
        "output copy_": lambda: hooked(Triple())(x * 1).copy_(lib.zeros(3)),
        "output relu_": lambda: hooked(Triple())(x * 1).relu_(),
        "output setitem": lambda: hooked(Triple())(x * 1).__setitem__(0, 5.0),
        "slice of output mul_": lambda: hooked(Triple())(x * 1)[1:].mul_(2),
        "view of output mul_": lambda: hooked(Triple())(x * 1).view(3).mul_(2),
        "unsqueeze of output mul_": lambda: hooked(Triple())(x * 1).unsqueeze(0).mul_(2),
        "second output add_": lambda: hooked(Pair())(x * 1)[1].add_(1),
        "pre-hook output add_": lambda: hooked(Triple(), pre=True)(x * 1).add_(1),
        "global hook output add_": global_hook,
        "input add_ inside forward": lambda: hooked(AddsInPlace())(x * 1),
        "leaf input add_ inside forward": lambda: hooked(AddsInPlace())(x),
        "input without grad add_ inside forward": lambda: hooked(AddsInPlace())(lib.ones(3)),
        "ReLU(inplace) hooked": lambda: hooked(lnn.ReLU(inplace=True))(x * 1),
        "Dropout(inplace) hooked": lambda: hooked(lnn.Dropout(0.5, inplace=True))(x * 1),
        "ReLU(inplace) after a hooked Linear": relu_in_sequential,
        "ReLU(inplace) inside a hooked Sequential": relu_in_hooked_sequential,
        "forward hook only": forward_hook_only,
        "input changed after the call": input_changed_after,
        "slice of output read": lambda: hooked(Triple())(x * 1)[1:].sum().backward(),
    }


@pytest.mark.parametrize("case", list(_hooked_calls(mg)))
def test_in_place_on_a_hooked_modules_input_or_output_is_refused_as_torch(case: str) -> None:
    # an in-place op on a BackwardHookFunction's output (a view made in a custom Function) ran here: the hooks saw
    # the gradient of the value before the op (torch refuses it, RuntimeError)
    torch.manual_seed(0)
    mg.manual_seed(0)
    _same_outcome(_hooked_calls(mg)[case], _hooked_calls(torch)[case])


def _unrecorded_changes(lib: Any) -> dict:
    """An in-place change under no_grad of a hooked call's output, input or a view of one, then a backward."""
    lnn = lib.nn

    class Triple(lnn.Module):
        def forward(self, x: Any) -> Any:
            return x * 3

    class ZeroesInput(lnn.Module):
        def forward(self, x: Any) -> Any:
            with lib.no_grad():
                x.zero_()
            return x * 2

    def hooked(module: Any) -> Any:
        module.register_full_backward_hook(lambda *args: None)
        return module

    x = lib.ones(3, requires_grad=True)

    def then(change: Callable[[Any, Any], Any], use: Callable[[Any, Any], Any] = lambda y, v: y) -> Callable:
        def run() -> list:
            y = hooked(Triple())(x * 1)
            v = y[1:]
            used_before = y + 1
            with lib.no_grad():
                change(y, v)
            (use(y, v).sum() + 0 * used_before.sum()).backward()
            return x.grad.tolist()
        return run

    return {
        "output mul_ then used": then(lambda y, v: y.mul_(2)),
        "output setitem then used": then(lambda y, v: y.__setitem__(0, 5.0)),
        "output add_(alpha=) then used": then(lambda y, v: y.add_(lib.ones(3), alpha=2)),
        "output changed, its earlier view used": then(lambda y, v: y.mul_(2), lambda y, v: v),
        "a view changed, the output used": then(lambda y, v: v.mul_(2)),
        "only uses recorded before": then(lambda y, v: y.mul_(2), lambda y, v: y.detach()),
        "input zeroed inside forward": lambda: hooked(ZeroesInput())(x * 1).sum().backward(),
    }


@pytest.mark.parametrize("case", list(_unrecorded_changes(mg)))
def test_an_unrecorded_change_of_a_hooked_calls_tensor_refuses_a_later_use_as_torch(case: str) -> None:
    # under no_grad the in-place op went unnoticed and the backward through a later use gave the gradient of the
    # value before the change (torch refuses the use: its BackwardHookFunction view changed since; here the
    # backward through it raises); uses recorded before the change are fine in both
    _same_outcome(_unrecorded_changes(mg)[case], _unrecorded_changes(torch)[case])


def test_the_refusal_names_the_hook_op_and_the_fix() -> None:
    relu = nn.ReLU(inplace=True)
    relu.register_full_backward_hook(lambda *args: None)
    with pytest.raises(RuntimeError, match="Output 0 of BackwardHookFunction is a view and is being modified "
                                           "inplace.*cloning"):
        relu(mg.ones(3, requires_grad=True) * 1)


# --- 2. container deletions run no registration hook --------------------------------------------------------------

def _deletions(lib: Any, container: str, how: str) -> tuple:
    lnn = lib.nn
    calls: list = []

    def hook(module: Any, name: str, child: Any) -> Any:
        calls.append((type(module).__name__, name, child.out_features))
        return lnn.Identity()   # a replacement: a renumbering through the hook would swap the children

    children = [lnn.Linear(1, k) for k in range(1, 5)]
    model = lnn.Sequential(*children) if container == "Sequential" else lnn.ModuleList(children)
    handle = lnn.modules.module.register_module_module_registration_hook(hook)
    try:
        if how == "del":
            del model[1]
        elif how == "del slice":
            del model[1:3]
        elif how == "del -1":
            del model[-1]
        elif how == "pop":
            model.pop(1)
        elif how == "pop -3":
            model.pop(-3)
        elif how == "insert":
            model.insert(1, lnn.Linear(1, 9))
    finally:
        handle.remove()
    return calls, [(name, type(m).__name__, getattr(m, "out_features", None)) for name, m in model.named_children()]


@pytest.mark.parametrize("container", ["Sequential", "ModuleList"])
@pytest.mark.parametrize("how", ["del", "del slice", "del -1", "pop", "pop -3", "insert"])
def test_container_deletions_renumber_without_registration_hooks_as_torch(container: str, how: str) -> None:
    # del/pop renumbered the children through add_module: the global module registration hooks ran for every
    # child after the deleted one (torch writes its _modules dict: none runs), and a hook's replacement was kept
    assert _deletions(mg, container, how) == _deletions(torch, container, how)



def _assign_load(lib: Any) -> tuple:
    """What load_state_dict(assign=True) leaves: registration hook calls, which objects the module holds, .grad,
    and whether an optimizer made before the load still moves the module."""
    lnn, calls = lib.nn, []
    model = lnn.BatchNorm1d(2)
    model(lib.ones(3, 2)).sum().backward()
    optimizer = lib.optim.SGD(model.parameters(), lr=1.0)
    parameter = lnn.Parameter(lib.ones(2))
    state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    state["weight"], buffer = parameter, state["running_mean"]
    hook = lambda module, name, value: calls.append((type(module).__name__, name, type(value).__name__))  # noqa: E731
    handles = [lnn.modules.module.register_module_parameter_registration_hook(hook),
               lnn.modules.module.register_module_buffer_registration_hook(hook)]
    try:
        model.load_state_dict(state, assign=True)
    finally:
        for handle in handles:
            handle.remove()
    before = model.bias.detach().clone()
    with lib.no_grad():
        optimizer.step()
    return (calls, model.weight is parameter, model.running_mean is buffer, model.bias.grad is None,
            bool((model.bias == before).all()))


@pytest.mark.usefixtures("torch_optim_loaded")
def test_an_assign_load_sets_the_state_dicts_tensors_as_torch() -> None:
    # assign=True rebound the old parameters' arrays: no registration hook ran, the module kept its old objects
    # with their .grad, and an optimizer made before the load went on moving the module (torch's module holds
    # the state dict's tensors, new Parameters around plain ones)
    assert _assign_load(mg) == _assign_load(torch)


# --- 4. float16 where PyTorch's CPU has no kernel ------------------------------------------------------------------

def _on(lib: Any, x: Any, values: Any) -> Any:
    return lib.tensor(values, device=x.device)


_HALF = (np.random.default_rng(4).standard_normal((5, 4)) * 2).astype(np.float16)
_CLASSES = np.array([0, 3, 1, 2, 3])
_LABELS = np.array([[0, 2, -1, 1], [3, -1, 0, 0], [1, 2, 3, 0], [2, -1, 0, 0], [0, 1, 2, 3]])
NO_CPU_HALF_KERNEL = {
    "pdist": lambda lib, x: lib.nn.functional.pdist(x),
    "pdist p=1": lambda lib, x: lib.nn.functional.pdist(x, p=1),
    "torch.pdist": lambda lib, x: lib.pdist(x),
    "multi_margin_loss": lambda lib, x: lib.nn.functional.multi_margin_loss(x, _on(lib, x, _CLASSES)),
    "multi_margin_loss p=2 none": lambda lib, x: lib.nn.functional.multi_margin_loss(
        x, _on(lib, x, _CLASSES), p=2, reduction="none"),
    "multi_margin_loss out of range": lambda lib, x: lib.nn.functional.multi_margin_loss(
        x, _on(lib, x, [0, 1, 2, 3, 9])),
    "MultiMarginLoss": lambda lib, x: lib.nn.MultiMarginLoss()(x, _on(lib, x, _CLASSES)),
    "multilabel_margin_loss": lambda lib, x: lib.nn.functional.multilabel_margin_loss(x, _on(lib, x, _LABELS)),
    "MultiLabelMarginLoss none": lambda lib, x: lib.nn.MultiLabelMarginLoss(reduction="none")(x, _on(lib, x, _LABELS)),
    "multilabel_margin_loss 1-d": lambda lib, x: lib.nn.functional.multilabel_margin_loss(
        x[0], _on(lib, x, _LABELS[0])),
    # before the kernel: PyTorch's shape and argument errors
    "pdist 3-d": lambda lib, x: lib.nn.functional.pdist(x.reshape(5, 2, 2)),
    "multi_margin_loss p=3": lambda lib, x: lib.nn.functional.multi_margin_loss(x, _on(lib, x, _CLASSES), p=3),
    "multilabel_margin_loss bad target": lambda lib, x: lib.nn.functional.multilabel_margin_loss(
        x, _on(lib, x, _LABELS[:, :3])),
    # the kernel is not reached: an empty result
    "pdist of one row": lambda lib, x: lib.nn.functional.pdist(x[:1]),
    "multi_margin_loss of no sample none": lambda lib, x: lib.nn.functional.multi_margin_loss(
        x[:0], _on(lib, x, _CLASSES[:0]), reduction="none"),
}


@pytest.mark.parametrize("case", sorted(NO_CPU_HALF_KERNEL))
def test_float16_without_a_cpu_kernel_is_refused_as_torch(case: str) -> None:
    # pdist, multi_margin_loss (in float32 rounded once) and multilabel_margin_loss (float16 steps) computed a
    # float16 CPU input that PyTorch's CPU refuses (NotImplementedError: no 'Half' kernel)
    fn = NO_CPU_HALF_KERNEL[case]
    _same_outcome(lambda: fn(mg, mg.tensor(_HALF)), lambda: fn(torch, torch.tensor(_HALF)))
    if _outcome(lambda: fn(torch, torch.tensor(_HALF))) is None:
        ours, theirs = fn(mg, mg.tensor(_HALF)), fn(torch, torch.tensor(_HALF))
        assert ours.dtype == mg.float16 and tuple(ours.shape) == tuple(theirs.shape)


@pytest.mark.gpu
@pytest.mark.parametrize("case", ["pdist", "pdist p=1", "multi_margin_loss", "multi_margin_loss p=2 none",
                                  "multilabel_margin_loss", "MultiLabelMarginLoss none"])
def test_float16_without_a_cpu_kernel_on_a_gpu_is_float32_rounded_once(case: str) -> None:
    # PyTorch's CUDA kernels take float16 (computing in float32): so does minigrad on a GPU
    fn = NO_CPU_HALF_KERNEL[case]
    got = fn(mg, mg.tensor(_HALF, device="cuda"))
    expected = fn(torch, torch.tensor(_HALF.astype(np.float32))).half()
    assert got.dtype == mg.float16
    np.testing.assert_array_equal(got.cpu().numpy(), expected.numpy())


# --- 5. orthogonal in float16; mg.compile inside parametrize.cached() ---------------------------------------------

@pytest.mark.parametrize("orthogonal_map", ["householder", "cayley"])
@pytest.mark.parametrize("when", ["half after", "half before", "half then forward"])
def test_orthogonal_in_float16_is_refused_as_torch(orthogonal_map: str, when: str) -> None:
    # householder computed a float16 weight through its primitive steps; PyTorch's householder_product has no
    # float16 kernel (NotImplementedError), as its cayley's solve
    def build(lib: Any) -> Any:
        module = lib.nn.Linear(3, 3)
        if when == "half before":
            module.half()
        lib.nn.utils.parametrizations.orthogonal(module, orthogonal_map=orthogonal_map)
        if when != "half before":
            module.half()
        if when == "half then forward":
            module(lib.ones(2, 3, dtype=lib.float16))
        return module.weight

    _same_outcome(lambda: build(mg), lambda: build(torch))


@pytest.mark.parametrize("steps", ["C+CW", "W+C", "E+C", "C+E", "CC+C", "C+CCW", "E+CE", "C+W", "[C+C]C[C+C]",
                                   "[CC]+[C]", "+[E+C]C", "[C+[C]C]C"])
def test_compiled_calls_inside_cached_read_the_blocks_one_value_as_torch(steps: str) -> None:
    # inside parametrize.cached() a replay computed the weight again from an original changed in place (PyTorch's
    # compiled and eager calls share one value per block), and eager reads had a cache of their own. torch's side
    # is eager here: torch.compile(backend="eager") gives the same (150 random sequences: /tmp/fuzz21_b5d.py) but
    # takes seconds to start

    def run(lib: Any) -> list:
        lnn = lib.nn
        double = type("Double", (lnn.Module,), {"forward": lambda self, x: x * 2})
        module = lnn.Linear(2, 2, bias=False)
        with lib.no_grad():
            module.weight.copy_(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
        lnn.utils.parametrize.register_parametrization(module, "weight", double())
        compiled = module if lib is torch else mg.compile(module)
        x, out, blocks = lib.ones(1, 2), [], []
        for step in steps if "[" in steps else "[" + steps + "]":
            if step == "[":
                blocks.append(lnn.utils.parametrize.cached())
                blocks[-1].__enter__()
            elif step == "]":
                blocks.pop().__exit__(None, None, None)
            elif step == "+":
                with lib.no_grad():
                    module.parametrizations.weight.original.add_(1)
            else:
                value = {"C": lambda: compiled(x), "E": lambda: module(x), "W": lambda: module.weight}[step]()
                out.append(value.detach().numpy().ravel().tolist())
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (minigrad's CompileWarning: the calls in a block run eagerly)
        assert run(mg) == run(torch)


# --- 7. small API gaps: TypedStorage(size, dtype=), streams and events -------------------------------------------

STORAGES = {
    "size": (lambda lib: lib.TypedStorage(3, dtype=lib.int64), False),
    "float16 size": (lambda lib: lib.TypedStorage(3, dtype=lib.float16), False),
    "sequence": (lambda lib: lib.TypedStorage([1, 2], dtype=lib.int32), True),
    "floats into int32": (lambda lib: lib.TypedStorage([1.5, -2.7], dtype=lib.int32), True),
    "no dtype": (lambda lib: lib.TypedStorage([1, 2]), True),
    "tuple": (lambda lib: lib.TypedStorage((1, 2), dtype=lib.float64), True),
    "nested": (lambda lib: lib.TypedStorage([[1, 2]], dtype=lib.int32), True),
    "range": (lambda lib: lib.TypedStorage(range(3), dtype=lib.float64), True),
    "complex": (lambda lib: lib.TypedStorage([1 + 2j], dtype=lib.complex64), True),
    "tensors": (lambda lib: lib.TypedStorage([lib.tensor(1.0), lib.tensor(2.0)], dtype=lib.float32), True),
    "empty": (lambda lib: lib.TypedStorage(), True),
    "empty int8": (lambda lib: lib.TypedStorage(dtype=lib.int8), True),
    "True as a size": (lambda lib: lib.TypedStorage(True, dtype=lib.int32), False),
    "device": (lambda lib: lib.TypedStorage(2, dtype=lib.float32, device="cpu"), False),
    "wrap_storage": (lambda lib: lib.TypedStorage(wrap_storage=lib.UntypedStorage(8), dtype=lib.int32), False),
    "storage.TypedStorage": (lambda lib: lib.storage.TypedStorage([3], dtype=lib.int64), True),
    "negative size": (lambda lib: lib.TypedStorage(-1, dtype=lib.int8), True),
    "two sizes": (lambda lib: lib.TypedStorage(1, 2, dtype=lib.int8), True),
    "a float size": (lambda lib: lib.TypedStorage(2.0, dtype=lib.int8), True),
    "a string": (lambda lib: lib.TypedStorage("ab", dtype=lib.int8), True),
    "uint8 overflow": (lambda lib: lib.TypedStorage([300], dtype=lib.uint8), True),
    "NaN into int32": (lambda lib: lib.TypedStorage([float("nan")], dtype=lib.int32), True),
    "wrap_storage without dtype": (lambda lib: lib.TypedStorage(wrap_storage=lib.UntypedStorage(8)), True),
}


@pytest.mark.parametrize("case", list(STORAGES))
def test_typed_storage_is_made_as_torch(case: str) -> None:
    # TypedStorage took only minigrad's own (untyped, dtype): PyTorch's TypedStorage(size, dtype=), (sequence,
    # dtype=), () and (wrap_storage=, dtype=) raised (values compared where PyTorch's are initialised)
    make, values = STORAGES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (the deprecation warning of both)
        _same_outcome(lambda: make(mg), lambda: make(torch))
        if _outcome(lambda: make(torch)) is not None:
            return
        ours, theirs = make(mg), make(torch)
    assert (str(ours.dtype), ours.size(), len(ours), ours.element_size(), ours.nbytes(), str(ours.device)) == \
        (str(theirs.dtype).removeprefix("torch."), theirs.size(), len(theirs), theirs.element_size(),
         theirs.nbytes(), str(theirs.device))
    if values:
        assert ours.tolist() == theirs.tolist()


def test_a_tensors_storage_still_reads_its_memory_without_a_warning_from_the_constructor() -> None:
    x = mg.tensor([1.0, 2.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        storage = x.storage()
    assert storage.tolist() == [1.0, 2.0, 3.0] and storage.data_ptr() == x.data_ptr()


STREAM_CALLS = {
    "cuda.Event()": lambda lib: lib.cuda.Event(),
    "cuda.Event(enable_timing=True)": lambda lib: lib.cuda.Event(enable_timing=True),
    "cuda.Stream()": lambda lib: lib.cuda.Stream(),
    "cuda.current_stream()": lambda lib: lib.cuda.current_stream(),
    "cuda.default_stream()": lambda lib: lib.cuda.default_stream(),
    "cuda.stream(None)": lambda lib: lib.cuda.stream(None).__enter__(),
    "cpu.Stream()": lambda lib: lib.cpu.Stream().wait_stream(lib.cpu.current_stream()),
    "cpu.stream(...)": lambda lib: lib.cpu.stream(lib.cpu.current_stream()).__enter__(),
}


@pytest.mark.skipif(mg.cuda.is_available() or torch.cuda.is_available(), reason="torch's answers without CUDA")
@pytest.mark.parametrize("case", list(STREAM_CALLS))
def test_streams_and_events_without_a_gpu_as_torch_without_cuda(case: str) -> None:
    # mg.cuda had no Event, Stream, current_stream, default_stream or stream (AttributeError), mg.cpu no Stream;
    # without CUDA PyTorch's Event and Stream raise RuntimeError (current_stream: AssertionError, minigrad's
    # RuntimeError for every CUDA request without a GPU), stream(None) changes nothing
    call = STREAM_CALLS[case]
    expected = _outcome(lambda: call(torch))
    got = _outcome(lambda: call(mg))
    assert (got is None) == (expected is None) and (got is None or issubclass(got, RuntimeError))


class _FakeCupyEvent:
    """cupy.cuda.Event's interface, timing two records 2.5 ms apart."""

    def __init__(self, block: bool = False, disable_timing: bool = False, interprocess: bool = False) -> None:
        self.disable_timing, self.recorded, self.done = disable_timing, None, True

    def record(self, stream: Any = None) -> None:
        self.recorded = stream

    def synchronize(self) -> None:
        return None


class _FakeCupyStream:
    null: Any = None

    def __init__(self, null: bool = False, non_blocking: bool = False) -> None:
        self.ptr, self.done, self.waited, self.entered = 0 if null else id(self), True, [], 0

    def wait_event(self, event: Any) -> None:
        self.waited.append(event)

    def synchronize(self) -> None:
        return None

    def __enter__(self) -> Any:
        self.entered += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        self.entered -= 1


def test_streams_and_events_drive_cupys(monkeypatch: pytest.MonkeyPatch) -> None:
    # the GPU path, on a stand-in of CuPy's stream and event API (the strict CuPy stand-in has neither)
    import types

    _FakeCupyStream.null = _FakeCupyStream(null=True)
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(
        Event=_FakeCupyEvent, Stream=_FakeCupyStream, get_current_stream=lambda: _FakeCupyStream.null,
        get_elapsed_time=lambda start, end: 2.5))
    monkeypatch.setattr(mg.backend, "cupy_module", lambda required=True: fake)
    start, end = mg.cuda.Event(enable_timing=True), mg.cuda.Event(enable_timing=True)
    side = mg.cuda.Stream()
    start.record()
    with mg.cuda.stream(side) as inside:
        assert inside is side and side._stream.entered == 1
        end.record(side)
    assert side._stream.entered == 0 and end._event.recorded is side._stream
    end.synchronize()
    assert start.query() and side.query() and start.elapsed_time(end) == 2.5
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        mg.cuda.Event().elapsed_time(end)
    side.wait_event(start)
    mg.cuda.current_stream().wait_stream(side)
    assert side._stream.waited == [start._event] and len(_FakeCupyStream.null.waited) == 1
    assert mg.cuda.current_stream() == mg.cuda.default_stream() != side


_X = np.random.default_rng(7).standard_normal((3, 4)) * 3
_M = np.array([[True, False, True, True], [False, False, False, False], [True, True, False, True]])
MASKED = {
    "sum dim 1": lambda lib, x, m: lib.masked.sum(x, 1, mask=m),
    "sum all keepdim": lambda lib, x, m: lib.masked.sum(x, keepdim=True, mask=m),
    "sum of ints": lambda lib, x, m: lib.masked.sum(x.round().to(lib.int32), 1, mask=m),
    "sum broadcast mask": lambda lib, x, m: lib.masked.sum(x, 0, mask=m[0]),
    "sum no mask": lambda lib, x, m: lib.masked.sum(x, (0, 1)),
    "prod": lambda lib, x, m: lib.masked.prod(x, 1, mask=m),
    "amax": lambda lib, x, m: lib.masked.amax(x, 1, mask=m),
    "amin ints": lambda lib, x, m: lib.masked.amin(x.round().to(lib.int64), 1, mask=m),
    "argmax": lambda lib, x, m: lib.masked.argmax(x, 1, mask=m),
    "mean": lambda lib, x, m: lib.masked.mean(x, 1, mask=m),
    "median": lambda lib, x, m: lib.masked.median(x, 1, mask=m),
    "logsumexp": lambda lib, x, m: lib.masked.logsumexp(x, 1, mask=m),
    "logaddexp": lambda lib, x, m: lib.masked.logaddexp(x, x / 2, input_mask=m),
    "norm 1": lambda lib, x, m: lib.masked.norm(x, 1.0, 1, mask=m),
    "norm -inf": lambda lib, x, m: lib.masked.norm(x, float("-inf"), 1, mask=m),
    "var": lambda lib, x, m: lib.masked.var(x, 1, mask=m),
    "std correction 0": lambda lib, x, m: lib.masked.std(x, 1, correction=0, keepdim=True, mask=m),
    "var of ints": lambda lib, x, m: lib.masked.var(x.round().to(lib.int64), 1, mask=m),
    "cumsum": lambda lib, x, m: lib.masked.cumsum(x, 1, mask=m),
    "cumprod": lambda lib, x, m: lib.masked.cumprod(x, 0, mask=m),
    "softmax": lambda lib, x, m: lib.masked.softmax(x, 1, mask=m),
    "log_softmax": lambda lib, x, m: lib.masked.log_softmax(x, 0, mask=m),
    "softmin": lambda lib, x, m: lib.masked.softmin(x, 1, mask=m),
    "normalize": lambda lib, x, m: lib.masked.normalize(x, 2.0, 1, mask=m),
    # errors
    "mean of ints": lambda lib, x, m: lib.masked.mean(x.round().to(lib.int64), 1, mask=m),
    "amax of bools": lambda lib, x, m: lib.masked.amax(x > 0, 1, mask=m),
    "mask of more dims": lambda lib, x, m: lib.masked.sum(x, 1, mask=m[None]),
    "median of ints, a row masked out": lambda lib, x, m: lib.masked.median(x.round().to(lib.int64), 1, mask=m),
    "dim twice": lambda lib, x, m: lib.masked.sum(x, (1, 1), mask=m),
}


@pytest.mark.parametrize("case", list(MASKED))
def test_masked_functions_as_torch(case: str) -> None:
    # mg.masked was missing (AttributeError): PyTorch's masked reductions and normalizations, with their values at
    # fully masked-out rows (0, -inf, NaN) and gradients to the masked-in elements only; MaskedTensor is refused
    fn = MASKED[case]

    def run(lib: Any) -> tuple:
        x = lib.tensor(_X, requires_grad=True)
        y = fn(lib, x, lib.tensor(_M))
        finite = lib.where(lib.isfinite(y), y, lib.zeros_like(y)) if y.dtype in (lib.float32, lib.float64) else None
        grad = None if finite is None else lib.autograd.grad(finite.sum(), x, allow_unused=True)[0]
        return y.detach().numpy(), str(y.dtype).removeprefix("torch."), None if grad is None else grad.numpy()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (torch's prototype warning)
        _same_outcome(lambda: run(mg), lambda: run(torch))
        if _outcome(lambda: run(torch)) is not None:
            return
        (ours, dtype, grad), (theirs, their_dtype, their_grad) = run(mg), run(torch)
    assert dtype == their_dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert (grad is None) == (their_grad is None)
    if grad is not None:
        np.testing.assert_allclose(grad, their_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["masked_tensor", "as_masked_tensor", "MaskedTensor"])
def test_masked_tensor_is_refused_naming_the_masked_functions(name: str) -> None:
    # PyTorch's prototype MaskedTensor (a subclass carrying its mask through every op) is not implemented
    with pytest.raises(NotImplementedError, match=f"masked.{name}: minigrad has no MaskedTensor.*mask="):
        getattr(mg.masked, name)(mg.tensor(_X), mg.tensor(_M))
    assert not mg.masked.is_masked_tensor(mg.tensor(_X))


# --- 6. grad_fn._sequence_nr() ------------------------------------------------------------------------------------

def test_sequence_numbers_grow_with_each_recorded_node_as_torch_within_a_thread() -> None:
    # grad_fn._sequence_nr() was missing (AttributeError). As PyTorch's, it grows by one per recorded node (none
    # under no_grad) and a leaf's AccumulateGrad has 2**64 - 1; minigrad counts for the whole process where
    # PyTorch counts per thread (documented), so only differences within one thread are compared
    def numbers(lib: Any) -> list:
        x = lib.ones(2, requires_grad=True)
        a = x * 2
        b = a + 1
        with lib.no_grad():
            x * 3
        c = b.sum()
        nodes = [a.grad_fn, b.grad_fn, c.grad_fn]
        return [n._sequence_nr() - nodes[0]._sequence_nr() for n in nodes] + \
            [a.grad_fn.next_functions[0][0]._sequence_nr()]

    assert numbers(mg) == numbers(torch)
