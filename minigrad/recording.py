"""Recording state, per thread: grad mode, the name scope, anomaly mode, the ``mg.func`` transforms running.

Each lives in a context variable, so a thread (or an asyncio task) has its
own, as PyTorch's grad mode is per thread: ``optimizer.step()`` entering
``no_grad`` in one thread never stops another thread's recording. The engine
(:mod:`minigrad.autograd`) reads them once per op.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from contextvars import ContextVar
from threading import get_ident
from typing import Any, Callable, Iterator

from .arguments import as_bool


class State:
    """What the engine reads once per op, kept in one context variable (a new one per change).

    ``grad``: grad mode. ``checks``: False; True under ``detect_anomaly``; while
    ``mg.compile`` captures a call, its tracer. ``scope``: the name scope, e.g.
    ``"encoder/l0/t3"``.
    """

    __slots__ = ("grad", "checks", "scope")

    def __init__(self, grad: bool, checks: Any, scope: str) -> None:
        self.grad, self.checks, self.scope = grad, checks, scope

    def but(self, field: str, value: Any) -> State:
        """A copy with one field changed."""
        state = State(self.grad, self.checks, self.scope)
        setattr(state, field, value)
        return state


# Per thread (and per asyncio task): a new thread starts with recording on, no checks, no scope. One
# ContextVar read per op instead of three: a read costs ~35 ns, a slot attribute ~15 ns (measured).
# The default State is shared by every thread: it is never changed in place (each change makes a new one).
_state: ContextVar[State] = ContextVar("minigrad_recording", default=State(True, False, ""))  # noqa: B039
# Whether this thread is inside ``mg.inference_mode()`` (set by ``ops/inference.py``, read by the switches here).
_inference_mode: ContextVar[bool] = ContextVar("minigrad_inference_mode", default=False)


class _GradOnInInference:
    """The grad mode ``enable_grad``/``set_grad_enabled(True)`` set inside ``inference_mode``: ``is_grad_enabled()``
    is True, as PyTorch's, but it is falsy, so the engine records nothing (PyTorch's inference mode records
    nothing whatever grad mode says)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<grad on inside inference_mode: nothing recorded>"


GRAD_ON_IN_INFERENCE = _GradOnInInference()


def _grad_on() -> Any:
    """The grad mode a user's ``enable_grad`` sets: True, or inside ``inference_mode`` the falsy marker."""
    return GRAD_ON_IN_INFERENCE if _inference_mode.get() else True


def set_state(field: str, value: Any) -> Any:
    """Set one field of this thread's recording state; returns its previous value (to restore it)."""
    state = _state.get()
    previous = getattr(state, field)
    _state.set(state.but(field, value))
    return previous


class _Switch:
    """A context manager (and decorator) that sets one field of the recording state and restores it on exit.

    Only that field is restored, so ``set_grad_enabled`` inside a ``name_scope`` block outlives the block.
    One object may be entered by several threads at once (``NO_GRAD = mg.no_grad()`` shared by workers): the
    values to restore are kept per thread, so a thread's exit never restores another thread's state.
    """

    field: str
    value: Any

    def _stack(self) -> list:
        """This thread's values to restore, one per block of this object it is inside (innermost last)."""
        return self.__dict__.setdefault("_previous", {}).setdefault(get_ident(), [])

    def _entry_value(self) -> Any:
        """The value a block sets (a local per entry: another thread may be entering this object too)."""
        return self.value

    def __enter__(self) -> Any:
        previous = set_state(self.field, self._entry_value())
        stacks = self.__dict__.get("_previous")
        if stacks is None:
            stacks = self.__dict__.setdefault("_previous", {})
        thread = get_ident()
        stack = stacks.get(thread)
        if stack is None:
            stacks[thread] = [previous]
        else:
            stack.append(previous)

    def __exit__(self, *exc: object) -> None:
        stacks = self._previous
        thread = get_ident()
        stack = stacks.get(thread)
        if stack is None:   # entered in another thread (a generator resumed here): that thread's entry
            if not stacks:
                raise RuntimeError(f"{type(self).__name__}: __exit__ without a matching __enter__")
            thread, stack = next(iter(stacks.items()))
        set_state(self.field, stack.pop())
        if not stack:   # only this thread uses its entry: a pool's threads leave nothing behind
            del stacks[thread]

    def __call__(self, fn: Callable) -> Callable:
        settings = {k: v for k, v in self.__dict__.items() if k != "_previous"}

        def fresh() -> _Switch:
            switch = object.__new__(type(self))   # one per call: calls may overlap in threads or recurse
            switch.__dict__.update(settings)
            return switch

        if inspect.isgeneratorfunction(fn):
            return functools.wraps(fn)(_generator_wrapper(fn, fresh))

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with fresh():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = fn.__doc__
        return wrapper


def _generator_wrapper(fn: Callable, fresh: Callable) -> Callable:
    """A generator function whose body runs under the switch each time it resumes, and never while it is
    suspended (the caller's code between two ``next`` calls keeps its own mode), as PyTorch's decorators."""

    def generator(*args: Any, **kwargs: Any) -> Any:
        switch = fresh()
        with switch:
            inner = fn(*args, **kwargs)
        try:
            with switch:
                response = inner.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with switch:
                        inner.close()
                    raise
                except BaseException as error:  # noqa: BLE001 - thrown into the generator: hand it on
                    with switch:
                        response = inner.throw(error)
                else:
                    with switch:
                        response = inner.send(request)
        except StopIteration as stop:
            return stop.value

    return generator


class _BareDecorator:
    """Lets the class itself decorate, as PyTorch's: ``@mg.no_grad`` as well as ``@mg.no_grad()``."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], bool):
            return cls()(args[0])
        return super().__new__(cls)


class no_grad(_BareDecorator, _Switch):
    """Context manager (and decorator) under which no op is recorded (in this thread)."""

    field, value = "grad", False


class enable_grad(_BareDecorator, _Switch):
    """Context manager (and decorator) that turns recording back on inside ``no_grad``. Inside
    ``inference_mode`` it turns grad mode on but nothing is recorded, as PyTorch's."""

    field, value = "grad", True

    def _entry_value(self) -> Any:
        return _grad_on()


class record_grad(enable_grad):  # noqa: N801 - a switch, as enable_grad
    """minigrad's own graphs (a ``create_graph`` backward, the ``mg.func`` transforms, checkpoint's recompute):
    recording on even inside a user's ``inference_mode``, where PyTorch's equivalents work too; the mode is off
    inside the block, as in torch.func's transforms, so a user's ``enable_grad`` in the function records."""

    def _entry_value(self) -> Any:
        return True

    def __enter__(self) -> None:
        self.__dict__.setdefault("_tokens", []).append(_inference_mode.set(False))
        super().__enter__()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        _inference_mode.reset(self._tokens.pop())


class set_grad_enabled(_Switch):  # noqa: N801 - PyTorch's name
    """Turn recording on or off for this thread: at once when called, until changed again, and as
    ``with mg.set_grad_enabled(is_training):`` for the block only (or as a decorator), as PyTorch's."""

    field = "grad"

    def __init__(self, mode: bool) -> None:
        self.value = as_bool(mode, "set_grad_enabled", "mode")
        self._before = set_state("grad", self._entry_value())   # a plain call takes effect now

    def _entry_value(self) -> Any:
        return _grad_on() if self.value else False

    def __enter__(self) -> None:
        before = self.__dict__.pop("_before", None)
        super().__enter__()
        if before is not None:   # the state before the call that made this object is what the block restores
            self._stack()[-1] = before

    def __call__(self, fn: Callable) -> Callable:
        before = self.__dict__.pop("_before", None)
        if before is not None:   # as a decorator it changes nothing until the function runs
            set_state("grad", before)
        return super().__call__(fn)


def restore_state(state: State) -> None:
    """Set this thread's recording state back to ``state`` if something changed it since (a hook's bare
    ``set_grad_enabled(True)`` or ``no_grad().__enter__()``): the backward walks call it per node, as PyTorch's
    engine runs each node (a leaf's hooks, accumulation and post-accumulate hooks among them) in the state the
    backward began with, so a node's hooks change grad mode for that node only."""
    if _state.get() is not state:
        _state.set(state)


def is_grad_enabled() -> bool:
    """Whether grad mode is on in this thread (False inside ``no_grad``/``inference_mode``; True inside
    ``enable_grad`` within ``inference_mode``, where nothing is recorded all the same, as PyTorch's)."""
    grad = _state.get().grad
    return grad is True or grad is GRAD_ON_IN_INFERENCE


def is_recording() -> bool:
    """Whether ops are recorded for backward in this thread: grad mode on and not inside ``inference_mode``
    (or inside it, a switch of minigrad's own such as ``record_grad``)."""
    return bool(_state.get().grad)


class name_scope(_Switch):
    """``with name_scope("encoder"):`` labels every op recorded inside (in this thread).

    Scopes nest with ``/``: ``encoder/l0/t3``. The visualiser groups by them.
    """

    field = "scope"

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"name_scope: a scope name is a non-empty string without '/', got {name!r}")
        self.name = name

    def _entry_value(self) -> str:
        outer = _state.get().scope
        return f"{outer}/{self.name}" if outer else self.name

    def __enter__(self) -> str:
        super().__enter__()
        return _state.get().scope


def current_scope() -> str:
    """The name scope ops are recorded in now, e.g. ``"encoder/l0/t3"`` (``""`` outside any)."""
    return _state.get().scope


class detect_anomaly(_Switch):
    """Check every forward output and backward gradient for NaN/Inf (in this thread).

    Raises :class:`AnomalyError` at the first one, naming the op, its name
    scope (``lstm/l0/t37``) and statistics of its inputs (see
    :mod:`minigrad.anomaly`). Off by default; when off the engine pays one
    flag test per op. ``check_nan=False`` (PyTorch's tracebacks without the NaN checks) is refused, as
    :class:`set_detect_anomaly` refuses it: the checks are all this mode does.
    """

    field = "checks"

    def __init__(self, enabled: bool = True, *, check_nan: bool = True) -> None:
        self.value = as_bool(enabled, "detect_anomaly", "enabled")
        _refuse_without_checks(check_nan, "detect_anomaly")


def _refuse_without_checks(check_nan: bool, name: str) -> None:
    if not as_bool(check_nan, name, "check_nan"):
        raise NotImplementedError(f"{name}(check_nan=False): minigrad's anomaly mode is its NaN/Inf checks (it "
                                  "records no forward tracebacks)")


class set_detect_anomaly(detect_anomaly):  # noqa: N801 - PyTorch's name
    """``mg.set_detect_anomaly(True)`` turns :class:`detect_anomaly`'s checks on (or off) for this thread at once,
    until changed again, and for a block only as ``with mg.set_detect_anomaly(mode):``, as
    ``torch.autograd.set_detect_anomaly``. ``check_nan=False`` (PyTorch's tracebacks without the NaN checks) has
    nothing to keep here: refused."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.value = as_bool(mode, "set_detect_anomaly", "mode")
        _refuse_without_checks(check_nan, "set_detect_anomaly")
        self._before = set_state(self.field, self.value)   # a plain call takes effect now

    def __enter__(self) -> None:
        before = self.__dict__.pop("_before", None)
        super().__enter__()
        if before is not None:   # the block restores the state from before the call that made this object
            self._stack()[-1] = before


def is_anomaly_enabled() -> bool:
    """Whether :class:`detect_anomaly` (or ``set_detect_anomaly(True)``) is on in this thread."""
    return _state.get().checks is True


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """``torch.set_anomaly_enabled``: turn :class:`detect_anomaly`'s checks on or off now (in this thread), as
    ``set_detect_anomaly(enabled)`` called plainly; ``check_nan=False`` is refused (see :class:`set_detect_anomaly`)."""
    set_detect_anomaly(enabled, check_nan)


def is_anomaly_check_nan_enabled() -> bool:
    """``torch.is_anomaly_check_nan_enabled``: True (minigrad's anomaly mode, when on, is its NaN/Inf checks, and
    ``check_nan=False`` cannot be set; PyTorch's is True too unless a mode set it False)."""
    return True


def note_draw(name: str, make: Callable, inputs: tuple, result: Any) -> Any:
    """Called by random constructors and comparisons, which make a Tensor without a ``Function``.

    While ``mg.compile`` captures, the value is recorded as ``make(*arrays of
    inputs)``, so a replay draws fresh random numbers (in eager's order) or
    compares the new values, instead of freezing the capture's. Returns ``result``.
    """
    tracer = _state.get().checks
    if tracer and tracer is not True:
        tracer.record_draw(name, make, inputs, result)
    return result


def note_read(tensor: Any, how: str) -> None:
    """Called where Python reads a tensor's values (``item``, ``numpy``, ``bool``).

    While ``mg.compile`` captures, reading a value the captured function
    computed means its path may depend on values, so that signature runs eagerly.
    """
    tracer = _state.get().checks
    if tracer and tracer is not True:
        tracer.note_read(tensor, how)


def note_seed(what: str) -> None:
    """Called where a random generator is seeded or its state set (``manual_seed``, ``set_rng_state`` …).

    While ``mg.compile`` captures, a function that seeds inside runs eagerly for that signature: a replay
    draws on from the generator as it is and would not seed it again.
    """
    tracer = _state.get().checks
    if tracer and tracer is not True:
        tracer.note_seed(what)


# The torch.func transforms (vmap, grad, vjp, jacrev, jacfwd …) calling a user function on this thread right now,
# outermost first: one entry per transform, each None or a callable told of every draw from an explicit generator
# (see note_generator_draw). backward() reads it once per call.
_transforms: ContextVar[tuple] = ContextVar("minigrad_transforms", default=())


@contextlib.contextmanager
def inside_transform(watch_draws: Callable[[Any], None] | None = None) -> Iterator[None]:
    """Around a transform's calls of the user's function: ``backward()`` refuses to run inside (as torch's), and
    ``watch_draws(array_generator)`` (when given) is called before each draw from a ``generator=``."""
    token = _transforms.set(_transforms.get() + (watch_draws,))
    try:
        yield
    finally:
        _transforms.reset(token)


def refuse_backward_in_transform() -> None:
    """Raise torch's RuntimeError when ``backward()`` is called inside a ``mg.func`` transform: it would add
    each example's (or each stand-in's) gradient into the leaves' ``.grad``."""
    if _transforms.get():
        raise RuntimeError("backward() called inside a functorch transform. This is not supported, please use "
                           "functorch.grad or functorch.vjp instead or call backward() outside of functorch "
                           "transforms.")


def note_generator_draw(array_generator: Any) -> None:
    """Called before a draw from an explicit generator (``generator=``): the transforms running here see it
    (vmap's ``randomness``)."""
    for watch in _transforms.get():
        if watch is not None:
            watch(array_generator)
