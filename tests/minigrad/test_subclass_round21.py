"""Round 21: Parameter, Buffer and Tensor subclasses and Python's object protocols, compared with live torch
(found by /tmp/fuzz21_subclass.py)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import nn

torch = pytest.importorskip("torch", reason="no torch")


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")   # torch's __array__
@pytest.mark.parametrize("call", [
    lambda x: np.array(x),
    lambda x: np.array(x, dtype=np.float32),
    lambda x: np.array(x, copy=True),
    lambda x: np.asarray(x),
    lambda x: np.array(x, dtype=np.float64),
])
def test_numpy_array_of_a_tensor_is_a_copy_as_torch(call: Any) -> None:
    """``numpy.array(x)`` (NumPy's copy=True) shared the tensor's memory: writing into the "copy" changed the
    tensor. ``numpy.asarray`` shares, as PyTorch's."""
    outcomes = []
    for lib in (mg, torch):
        x = lib.ones(3)
        call(x)[0] = 9
        outcomes.append(x.tolist())
    assert outcomes[0] == outcomes[1]


def test_array_protocol_copy_keyword() -> None:
    """NumPy 2's ``__array__(dtype, copy)``: copy=True copies, copy=False where a copy is needed raises ValueError
    (torch's ``__array__`` takes no copy keyword)."""
    x = mg.ones(3)
    x.__array__(copy=True)[0] = 9
    assert x.tolist() == [1.0, 1.0, 1.0]
    assert np.shares_memory(np.array(x, copy=False), x.numpy())   # no copy needed, none made
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        np.array(x, dtype=np.float64, copy=False)


def test_deleting_data_is_not_refused_at_the_del() -> None:
    """PyTorch refuses ``del x.data`` (RuntimeError). minigrad does not: a ``Tensor.__delattr__`` made every
    attribute assignment on every tensor ~10x slower (CPython's slow setattr path; +25 % on a recorded op), so the
    tensor raises AttributeError at its next use instead (README, "Deliberately different")."""
    x = mg.ones(2)
    del x.data
    with pytest.raises(AttributeError, match="data"):
        x + 1


@pytest.mark.parametrize("attr", ["grad"])
def test_deleting_grad_as_torch(attr: str) -> None:
    """``del x.grad`` raised AttributeError (torch: the gradient becomes None)."""
    outcomes = []
    for lib in (mg, torch):
        x = lib.ones(2, requires_grad=True)
        (x * 2).sum().backward()
        try:
            delattr(x, attr)
            outcomes.append(("ok", x.grad, x.tolist()))
        except Exception as error:  # noqa: BLE001 - compared below
            outcomes.append(("raise", type(error)))
    ours, theirs = outcomes
    assert ours[0] == theirs[0]
    if ours[0] == "raise":
        assert issubclass(ours[1], theirs[1])
    else:
        assert ours[1] is None and theirs[1] is None and ours[2] == theirs[2]


@pytest.mark.parametrize("how", ["attribute", "vars", "copy", "deepcopy", "pickle", "detach", "op"])
def test_plain_tensor_takes_attributes_as_torch(how: str) -> None:
    """``x.foo = 1`` on a plain tensor raised AttributeError (Tensor had only __slots__); PyTorch allows it, and
    copy/deepcopy/pickle carry the attribute while ops and detach() do not."""
    def run(lib: Any) -> Any:
        x = lib.ones(2)
        x.foo = "x"
        if how == "attribute":
            return x.foo
        if how == "vars":
            return vars(x)
        y = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": lambda t: pickle.loads(pickle.dumps(t)),
             "detach": lambda t: t.detach(), "op": lambda t: t + 1}[how](x)
        return type(y).__name__, getattr(y, "foo", None), y.tolist()
    assert run(mg) == run(torch)


@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle", "detach", "module_deepcopy", "subclass",
                                 "persistent", "persistent_int"])
def test_buffer_marks_as_torch(how: str) -> None:
    """``isinstance(t, nn.Buffer)`` was False for copies of a buffer (a side table keyed by id), True for any
    instance check of a Buffer subclass, and ``b.persistent`` did not exist; PyTorch's Buffer is a plain tensor with
    the attributes ``_is_buffer`` and ``persistent``."""
    def run(lib: Any, lnn: Any) -> Any:
        b = lnn.Buffer(lib.ones(2), persistent=False)
        if how == "persistent":
            return b.persistent, lnn.Buffer(lib.ones(1)).persistent
        if how == "persistent_int":
            m = lnn.Module()
            m.b = lnn.Buffer(lib.ones(2), persistent=0)
            m.c = lnn.Buffer(lib.ones(2), persistent=1)
            return list(m.state_dict()), [n for n, _ in m.named_buffers()]
        if how == "subclass":
            class MyBuffer(lnn.Buffer):
                pass
            return isinstance(b, MyBuffer), isinstance(b, lnn.Buffer), isinstance(lib.ones(1), lnn.Buffer)
        if how == "module_deepcopy":
            m = lnn.Module()
            m.b = b
            c = copy.deepcopy(m)
            c2 = lnn.Module()
            c2.b = c.b   # registered again as a non-persistent buffer
            return isinstance(c.b, lnn.Buffer), list(c2.state_dict()), [n for n, _ in c2.named_buffers()]
        y = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": lambda t: pickle.loads(pickle.dumps(t)),
             "detach": lambda t: t.detach()}[how](b)
        return isinstance(y, lnn.Buffer), getattr(y, "persistent", None)
    assert run(mg, nn) == run(torch, torch.nn)


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        value = fn(*args)
    except Exception as error:  # noqa: BLE001 - compared with torch's
        return ("raise", type(error))
    return ("ok", value)


def _same(ours: Any, theirs: Any) -> None:
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "raise":
        assert issubclass(ours[1], theirs[1]), (ours, theirs)
    else:
        assert ours[1] == theirs[1]


@pytest.mark.parametrize("case", ["basic", "requires_grad", "non_leaf", "parameter_style", "not_a_subclass",
                                  "integer_requires_grad"])
def test_make_subclass_as_torch(case: str) -> None:
    """``Tensor._make_subclass(cls, data, require_grad)`` (PyTorch's Parameter and subclasses' ``__new__`` use it)
    did not exist (AttributeError)."""
    def run(lib: Any) -> Any:
        class Tagged(lib.Tensor):
            pass

        class MyParam(lib.Tensor):
            def __new__(cls, data: Any, requires_grad: bool = True) -> Any:
                return lib.Tensor._make_subclass(cls, data, requires_grad)

        if case == "parameter_style":
            p = MyParam(lib.ones(2))
            (p * 3).sum().backward()
            return type(p).__name__, p.requires_grad, p.is_leaf, p.grad.tolist()
        x = {"non_leaf": lib.ones(2, requires_grad=True) * 2,
             "integer_requires_grad": lib.ones(2, dtype=lib.int64)}.get(case, lib.ones(2))
        cls = int if case == "not_a_subclass" else Tagged
        y = lib.Tensor._make_subclass(cls, x, case in ("requires_grad", "integer_requires_grad"))
        return type(y).__name__, y.requires_grad, y.is_leaf, y.data_ptr() == x.data_ptr(), y.tolist()
    _same(_outcome(run, mg), _outcome(run, torch))


@pytest.mark.parametrize("case", ["init_only", "new_and_init", "new_returns_super", "parameter_new", "legacy",
                                  "int_requires_grad"])
def test_subclass_constructors_as_torch(case: str) -> None:
    """A subclass's own ``__init__(self, ...)`` that does not call Tensor's (PyTorch makes the tensor in
    ``__new__``) gave a tensor without data, and ``super().__new__(cls, data)`` raised object's TypeError."""
    def run(lib: Any, lnn: Any) -> Any:
        if case == "init_only":
            class Meta(lib.Tensor):
                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    self.meta = "m"
            t = Meta([1.0, 2.0])
            return type(t).__name__, t.meta, t.tolist(), str(t.dtype)[-7:]
        if case in ("new_and_init", "new_returns_super"):
            class Meta(lib.Tensor):   # type: ignore[no-redef]
                @staticmethod
                def __new__(cls: Any, x: Any, extra: Any = None, *args: Any, **kwargs: Any) -> Any:
                    return super().__new__(cls, x, *args, **kwargs)

                if case == "new_and_init":
                    def __init__(self, x: Any, extra: Any = None) -> None:
                        self.extra = extra
            t = Meta(lib.ones(2), extra=3)
            return type(t).__name__, getattr(t, "extra", None), t.tolist()
        if case == "parameter_new":
            class TaggedParam(lnn.Parameter):
                def __new__(cls, data: Any, tag: str) -> Any:
                    p = super().__new__(cls, data, requires_grad=False)
                    p.tag = tag
                    return p

                def __init__(self, data: Any, tag: str) -> None:
                    super().__init__()
            p = TaggedParam(lib.ones(2), "w")
            return type(p).__name__, p.tag, p.requires_grad, isinstance(p, lnn.Parameter), p.tolist()
        if case == "int_requires_grad":   # raises (it once gave an int tensor that silently did not require grad)
            class Quiet(lib.Tensor):
                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    pass
            return Quiet(lib.tensor([1, 2]), requires_grad=True).requires_grad

        class Plain(lib.Tensor):
            pass
        return [Plain(2, 3).shape[0], Plain([1, 2]).tolist(), str(Plain([1, 2]).dtype)[-7:]]
    _same(_outcome(run, mg, nn), _outcome(run, torch, torch.nn))


def test_older_style_subclass_init_still_works() -> None:
    """minigrad's older style, a subclass ``__init__`` taking its own arguments and calling ``super().__init__``,
    keeps working (PyTorch itself refuses the extra argument in ``Tensor.__new__``)."""
    class Named(mg.Tensor):
        def __init__(self, data: Any, label: str) -> None:
            super().__init__(data, requires_grad=True)
            self.label = label

    class OldParam(nn.Parameter):
        def __init__(self, data: Any, requires_grad: bool = True) -> None:
            super().__init__(data, requires_grad)

    t = Named([1.0, 2.0], "a")
    assert (type(t), t.label, t.tolist(), t.requires_grad) == (Named, "a", [1.0, 2.0], True)
    p = OldParam(mg.ones(2), False)
    assert (type(p), p.requires_grad, p.tolist()) == (OldParam, False, [1.0, 1.0])


@pytest.mark.parametrize("hook", ["__torch_function__", "__torch_dispatch__"])
def test_a_subclass_with_torch_function_is_refused(hook: str) -> None:
    """PyTorch sends every op on such a subclass through its ``__torch_function__`` (a logging or masking
    subclass); minigrad never called it, silently dropping what it did. The class is now refused when defined."""
    calls: list = []

    def handler(cls: Any, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        calls.append(func)
        return super(cls, cls).__torch_function__(func, types, args, kwargs or {})   # type: ignore[misc]

    logged = type("Logged", (torch.Tensor,), {"__torch_function__": classmethod(handler)})
    torch.ones(2).as_subclass(logged) + 1
    assert calls   # torch's ops go through it
    with pytest.raises(NotImplementedError, match=f"no {hook} dispatch"):
        type("Logged", (mg.Tensor,), {hook: classmethod(handler)})
    plain = type("Plain", (mg.Tensor,), {})   # without one: allowed, its op results are plain Tensors
    assert type(mg.ones(2).as_subclass(plain) + 1) is mg.Tensor


@pytest.mark.parametrize("order", ["parameter_first", "view_first"])
def test_deepcopy_of_a_parameter_shares_no_memory_as_torch(order: str) -> None:
    """``copy.deepcopy([p, p.detach()])``: torch's Parameter.__deepcopy__ clones, so the copied parameter and the
    copied tensor do not share memory; minigrad's shared it (a write into one copy changed the other)."""
    def run(lib: Any, lnn: Any) -> Any:
        p = lnn.Parameter(lib.tensor([1.0, 2.0]), requires_grad=False)
        items = [p, p.detach(), p[1:]] if order == "parameter_first" else [p.detach(), p[1:], p]
        copies = copy.deepcopy(items)
        with lib.no_grad():
            for c in copies:
                c.add_(10.0)
        return [c.tolist() for c in copies], p.tolist()
    assert run(mg, nn) == run(torch, torch.nn)


@pytest.mark.parametrize("shape", [(0,), (2,), (0, 3)])
@pytest.mark.parametrize("call", [lambda x: x < None, lambda x: x >= "a", lambda x: x == None,  # noqa: E711
                                  lambda x: x != "a"])
def test_ordering_comparison_with_none_or_str_raises_on_empty_tensors_too(shape: tuple, call: Any) -> None:
    """``empty < None`` returned an empty bool tensor (NumPy compares no elements); torch raises TypeError."""
    ours = _outcome(lambda: call(mg.ones(shape)))
    theirs = _outcome(lambda: call(torch.ones(shape)))
    _same(ours, theirs)


def test_requires_grad_assignment_of_a_non_bool_is_torchs_runtime_error() -> None:
    for lib in (mg, torch):
        with pytest.raises(RuntimeError, match="requires_grad must be a bool"):
            lib.ones(2).requires_grad = 1


@pytest.mark.parametrize("other", [[1.0], (1.0,), [1.0, 2.0], [[1.0]], []])
def test_tensor_equals_a_list_is_identity_as_torch(other: Any) -> None:
    """``x == [1.0]`` compared elementwise (so ``if x == [1.0]:`` was True); PyTorch's ``==`` and ``!=`` do not take
    a list or tuple, so Python compares identities: False and True."""
    for make in (lambda lib: lib.tensor([1.0]), lambda lib: lib.tensor(1.0), lambda lib: lib.tensor([1.0, 2.0])):
        ours = (make(mg) == other, make(mg) != other, other == make(mg))
        theirs = (make(torch) == other, make(torch) != other, other == make(torch))
        assert ours == theirs


@pytest.mark.gpu
def test_parameters_buffers_and_numpy_copies_on_the_gpu() -> None:
    """On a GPU (or the strict CuPy stand-in): ``p.cuda()`` is a plain Tensor in the graph and a buffer's copy on
    the device is no buffer, as PyTorch's; a module moved keeps its Parameter objects and non-persistent buffers;
    ``numpy.array`` of a device tensor is a host copy, and ``copy=False`` raises NumPy's ValueError."""
    p = nn.Parameter(mg.ones(2))
    q = p.cuda()
    assert type(q) is mg.Tensor and q.requires_grad and not q.is_leaf and q.is_cuda
    assert not isinstance(nn.Buffer(mg.ones(2)).cuda(), nn.Buffer)
    m = nn.Module()
    m.w = nn.Parameter(mg.ones(2))
    m.b = nn.Buffer(mg.ones(2), persistent=False)
    w = m.w
    m.cuda()
    assert isinstance(m.w, nn.Parameter) and m.w.is_cuda and m.b.is_cuda and m.w is w
    assert list(m.state_dict()) == ["w"]
    x = mg.ones(3, device="cuda")
    a = np.array(x)
    a[0] = 9
    assert x.cpu().tolist() == [1.0, 1.0, 1.0] and type(a) is np.ndarray
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        np.array(x, copy=False)
