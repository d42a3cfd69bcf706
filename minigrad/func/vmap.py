"""``vmap``: map a function over a batch dimension of its inputs, as ``torch.func.vmap``.

minigrad has no batching rules: ``vmap(f)(x)`` calls ``f`` once per index ``i`` of the mapped dimension, on
``x.select(in_dim, i)`` (and the unmapped arguments as they are), and stacks each output along ``out_dims``
(where each call returned a view of a mapped input, the result is one view of it, as torch's). The results
(values, shapes, structure, errors) are torch's; the speed is a Python loop's. The slices are ordinary ops, so
``grad(vmap(f))`` differentiates through the loop and ``vmap(grad(f))`` gives per-sample gradients. A write in
place into an unmapped input or a tensor ``f`` captures, which the loop would apply once per example, raises
unless each call leaves the same value (``zero_()``); a dict in ``in_dims``/``out_dims`` must list its keys in
its tree's order (torch pairs by position).

``randomness`` (PyTorch's meanings): ``"different"`` — each call draws its own numbers (what a loop
does); ``"same"`` — every call starts from the same state of the host (CPU) generator and of each
``generator=`` it draws from, so all draw the same numbers, and each generator ends where one call left it;
``"error"`` (default) — a draw raises PyTorch's error. A GPU's stream cannot be put back: ``"same"`` with a
draw on a GPU raises NotImplementedError. As torch's, ``"same"`` refuses a random op whose numbers depend on a
mapped tensor (``bernoulli(probs)``, ``normal(mean)``…) and ``"different"`` a draw in place into a tensor that is
not mapped (see :class:`_RandomOps`). ``backward()`` inside raises PyTorch's RuntimeError (use
``mg.func.grad``/``vjp``, or ``mg.autograd.grad``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import weakref
from typing import Any, Callable, Iterator

import numpy

from ..autograd.custom_vmap import vmap_calls
from ..autograd.engine import _SEQUENCE
from ..autograd.functions import LOOP_KEEPS_GRAPH
from ..constructors import ones, zeros
from ..generators import own_host_stream
from ..hooks import current_level, transform_level
from ..ops import stack
from ..ops._util import watching_random_ops
from ..ops.extras import eye
from ..ops.shape import track_view
from ..ops.strided import AsStrided, _root_key, _storage, vmapped_storage
from ..recording import enable_grad, inside_transform
from ..tensor import Tensor
from ..versions import INPLACE, memory_owner
from . import _pytree

__all__ = ["vmap"]


class NonTensorOutputError(ValueError, RuntimeError):
    """A mapped call returned a Python value: torch raises ValueError for one returned as such, RuntimeError
    earlier where it came from a batched tensor (``.item()``, ``allclose``, ``equal``); this is both."""


def vmap(func: Callable, in_dims: Any = 0, out_dims: Any = 0, randomness: str = "error", *,
         chunk_size: int | None = None) -> Callable:
    """``func`` mapped over a dimension of its inputs, as ``torch.func.vmap``.

    ``in_dims``: an int (every input's mapped dim), or a tuple with one entry per positional argument,
    each an int, None (not mapped: passed whole to every call) or a pytree of those matching that
    argument's structure (e.g. ``({"w": 0, "b": None}, 0)``); negative dims count from the end.
    ``out_dims``: where each output gets the mapped dimension (an int, None for an output that does not
    depend on the mapped inputs, or a pytree matching the outputs). Every mapped input must have the
    same size B along its dim; each output ``o`` of one call becomes one of shape ``o.shape`` with B
    inserted at its out_dim. Keyword arguments are passed to every call unmapped. ``chunk_size`` is
    accepted (the loop runs one call at a time anyway).
    """
    check_randomness(randomness)
    if chunk_size is not None and not chunk_size > 0:
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return _vmap_call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs)
    return wrapped


def check_randomness(randomness: Any) -> None:
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")


def _name(func: Any) -> str:
    if isinstance(func, functools.partial):
        return f"functools.partial({_name(func.func)}, ...)"
    return getattr(func, "__name__", repr(func))


def _vmap_call(func: Callable, in_dims: Any, out_dims: Any, randomness: str, chunk_size: int | None, args: tuple,
               kwargs: dict) -> Any:
    name = _name(func)
    _check_out_dims(out_dims, name)
    if chunk_size is not None and (not isinstance(chunk_size, int) or isinstance(chunk_size, bool)):
        raise TypeError(f"vmap({name}, ..., chunk_size={chunk_size!r}): chunk_size must be an int or None, got "
                        f"{type(chunk_size).__name__}")
    batch_size, flat_dims, flat_args, args_spec = _batched_inputs(in_dims, args, name)
    if batch_size == 0:
        return _empty_batch(func, flat_dims, flat_args, args_spec, kwargs, out_dims, randomness, name)
    results = []
    mapped = {id(memory_owner(arg.data)) for arg, dim in zip(flat_args, flat_dims) if dim is not None}
    unmapped = [(k, arg) for k, (arg, dim) in enumerate(zip(flat_args, flat_dims))
                if dim is None and isinstance(arg, Tensor) and id(memory_owner(arg.data)) not in mapped]
    written: dict = {}   # input index -> its value after the first call that changed it
    captured: dict = {}   # id(array) -> (weak reference to it, its value after the first call that changed it)
    skip = mapped | {id(memory_owner(arg.data)) for _, arg in unmapped}
    shared = _shared_memory(flat_args, flat_dims)
    scans = 0   # calls that wrote in place so far (the first two look for captured tensors written)
    random_ops = _RandomOps(randomness, mapped, {id(memory_owner(arg.data)) for _, arg in unmapped})
    level = _VmapLevel()   # for register_hook inside, and custom Functions' vmap rules
    level.mapped, level.unmapped = mapped, random_ops.unmapped
    _local.depth = vmap_depth() + 1
    try:
        with randomness_checked(randomness, batch_size) as start_call, watching_random_ops(random_ops), \
                inputs_level(mapped), transform_level(level), vmap_calls(randomness, level):
            for i in range(batch_size):
                with enable_grad():   # recorded even under no_grad (torch's batching is no op), for func's enable_grad
                    sample = [arg if dim is None else arg.select(dim, i) for arg, dim in zip(flat_args, flat_dims)]
                level.samples = {s._node for s, dim in zip(sample, flat_dims) if dim is not None and s._node}
                start_call()
                random_ops.start_call(i)
                shifts = [(arg, i * arg.stride(dim)) for arg, dim in zip(flat_args, flat_dims) if dim is not None]
                epoch, changes = INPLACE.epoch, INPLACE.thread_changes()
                keeps = LOOP_KEEPS_GRAPH.set(LOOP_KEEPS_GRAPH.get() or i < batch_size - 1)
                try:
                    with vmapped_storage(shifts):   # as_strided's offsets count from example 0, as torch's
                        results.append(func(*_pytree.unflatten(sample, args_spec), **kwargs))
                finally:
                    LOOP_KEEPS_GRAPH.reset(keeps)
                level.first = False
                if INPLACE.epoch != epoch and INPLACE.thread_changes() != changes:   # not only another thread's
                    _check_shared_writes(shared, flat_dims, epoch, name)
                    _check_unmapped_writes(unmapped, written, epoch, name)
                    _check_captured_writes(skip, captured, epoch, name, scan=scans < 2)
                    scans += 1
    finally:
        _local.depth -= 1
    inputs = [(arg, dim) for arg, dim in zip(flat_args, flat_dims) if dim is not None]
    with enable_grad():   # under no_grad, what an enable_grad in func recorded reaches the inputs, as torch's
        return _stacked(results, out_dims, name, chunked=chunk_size is not None, inputs=inputs)


_local = threading.local()


def recording_mark() -> int:
    """A number below the ``seq`` of every op recorded from now on and above that of every op recorded before: a
    transform takes one before making its function's inputs, and a tensor whose ``_node.seq`` is larger was made
    inside (as torch.func's levels wrap it)."""
    return next(_SEQUENCE)


class _VmapLevel:
    """The level of one vmap's calls of its function (not of a grad, vjp or jacrev called inside it), for
    ``register_hook`` (:func:`~minigrad.hooks.transform_level`). torch's vmap runs the function once, on batched
    tensors, which do not require grad; this loop runs it once per example."""

    batches = True   # torch's vmap: a custom Function applied inside needs a vmap rule (custom_vmap.py)

    def __init__(self) -> None:
        self.enclosing = current_level()
        self.start = recording_mark()
        self.first = True   # the first call runs now
        # what custom_vmap.batched reads: the memory owners of the mapped and of the unmapped inputs, and the
        # nodes of this call's slices of the mapped inputs (those that require grad)
        self.mapped: set = set()
        self.unmapped: set = set()
        self.samples: set = set()

    def hook_owner(self, tensor: Tensor) -> object | None:
        """None (not registered) for a tensor made in a call (torch's batched tensors do not require grad; one
        that is not batched would get the hook once per example) and, after the first call, for any other: torch
        registers the hook once. In the first call, the enclosing level's answer for a tensor made before."""
        return outer_hook_owner(self, tensor) if self.first else None


def outer_hook_owner(level: Any, tensor: Tensor) -> object | None:
    """A level's ``hook_owner`` answer for a ``tensor`` not computed from the level's own inputs: None for one made
    inside (recorded after ``level.start``), else the enclosing level's answer (False outside every transform)."""
    if tensor._node.seq > level.start:
        return None
    return False if level.enclosing is None else level.enclosing.hook_owner(tensor)


def _shared_memory(flat_args: list, flat_dims: list) -> list:
    """``(k, j, array)`` for inputs ``k`` and ``j`` that share memory (input ``j``'s ``array``) without being the
    same array mapped the same way (``x`` passed both mapped and with in_dim None, or mapped along two dims)."""
    first: dict = {}   # id(memory owner) -> the first input using it
    pairs = []
    for j, (arg, dim) in enumerate(zip(flat_args, flat_dims)):
        if not isinstance(arg, Tensor):
            continue
        k = first.setdefault(id(memory_owner(arg.data)), j)
        if k != j and (flat_args[k].data is not arg.data or flat_dims[k] != dim):
            pairs.append((k, j, arg.data))
    return pairs


def _check_shared_writes(shared: list, flat_dims: list, epoch: int, name: str) -> None:
    """Raise if a call changed in place memory that two inputs share (see :func:`_shared_memory`) while one of
    them is mapped: torch writes every example at once, so the other input reads the written values in every
    example; the loop writes one example per call, and the other input would read some examples written and
    others not."""
    for k, j, array in shared:
        if (flat_dims[k] is not None or flat_dims[j] is not None) and INPLACE.changed_since(array, epoch) is not None:
            raise RuntimeError(f"vmap({name}, ...): `{name}` changed in place the memory that inputs {k} (in_dim "
                               f"{flat_dims[k]}) and {j} (in_dim {flat_dims[j]}) share. PyTorch writes every example "
                               "at once, so the other input reads the written values in all examples; minigrad's "
                               "vmap calls the function once per example, so it would read some examples written and "
                               "others not. Pass a clone() of one of them.")


def _check_unmapped_writes(unmapped: list, written: dict, epoch: int, name: str) -> None:
    """Raise if a call changed an unmapped input (``in_dims`` None) in place to another value than the first
    call did: torch applies such a write once (or refuses it, when a mapped tensor is written into it), the
    loop applies it once per example, which is the same only for a write like ``zero_()``."""
    for k, arg in unmapped:
        if INPLACE.changed_since(arg.data, epoch) is None:
            continue
        if k not in written:
            written[k] = arg.data.copy()
            continue
        if not _equal(written[k], arg.data):
            raise RuntimeError(f"vmap({name}, ...): `{name}` changed an input that is not mapped (input {k}, in_dim "
                               f"None, shape {arg.shape}) in place. PyTorch refuses such a write when a mapped tensor "
                               "is written into it and otherwise applies it once; minigrad's vmap calls the function "
                               "once per example, so it would apply it that many times. Change the input out of "
                               "place, or map it (in_dims 0 on a tensor expanded to the batch size).")


def _check_captured_writes(skip: set, captured: dict, epoch: int, name: str, scan: bool) -> None:
    """Raise if a call changed in place an array that an earlier call changed too (a tensor ``func`` captures
    from outside, or keeps between calls) to another value than that call left: torch refuses writing a mapped
    value into such a tensor and applies any other write once; the loop applies it once per example. The
    arrays in ``skip`` (the inputs' memory) are left to the other checks; a new array each call (a clone
    written in place) is never changed by two calls. ``scan``: look through every array written since
    ``epoch`` (the first calls: a scan costs one step per array the in-place log holds), else only through
    the arrays the scans found."""
    if scan:
        changed = [array for ref, _, epochs in list(INPLACE.entries.values())
                   if epochs and epochs[-1] > epoch and (array := ref()) is not None and id(array) not in skip]
    else:
        changed = [array for ref, _ in list(captured.values())
                   if (array := ref()) is not None and INPLACE.changed_since(array, epoch) is not None]
    for array in changed:
        seen = captured.get(id(array))
        if seen is None or seen[0]() is not array:
            if scan:
                captured[id(array)] = (weakref.ref(array), array.copy())
            continue
        if not _equal(seen[1], array):
            raise RuntimeError(f"vmap({name}, ...): `{name}` changed in place a tensor that is not an input (shape "
                               f"{tuple(array.shape)}, dtype {array.dtype}: one it captures from outside or keeps "
                               "between calls) to another value on each call. PyTorch refuses writing a mapped "
                               "tensor into an unmapped one and applies other writes once; minigrad's vmap calls the "
                               "function once per example, so it would apply it that many times. Compute a new "
                               "tensor instead (out of place), or pass the tensor in as a mapped input.")


class _RandomOps:
    """Sees the random ops of one vmap's calls, to refuse what torch's ``randomness`` modes refuse and a loop
    would run. ``"same"``: an op whose numbers depend on a mapped tensor (``bernoulli(probs)``, ``normal(mean)``,
    ``multinomial``, ``poisson``; torch has no rule for them), known by its memory (a mapped input's) or by its
    values (another than the same op's in the first call). ``"different"``: a draw in place into a tensor that is
    not mapped, which torch would fill with one draw for every example: an unmapped input, or a tensor an earlier
    call drew into too (one ``func`` captures or keeps). A mapped tensor made with equal values in every call, or
    one call in all, cannot be told from an unmapped one: those run as one example each."""

    def __init__(self, randomness: str, mapped: set, unmapped: set) -> None:
        self.randomness, self.mapped, self.unmapped = randomness, mapped, unmapped
        self.first: list = []     # "same": the first call's parameter arrays, one list per random op, in order
        self.filled: dict = {}    # "different": id(memory) -> (weak reference to it, the call that drew into it)
        self.call = self.count = 0

    def start_call(self, i: int) -> None:
        self.call, self.count = i, 0

    def __call__(self, name: str, params: tuple, into: Tensor | None) -> None:
        if self.randomness == "same" and params:
            self._check_parameters(name, params)
        elif self.randomness == "different" and into is not None:
            self._check_target(name, into)

    def _check_parameters(self, name: str, params: tuple) -> None:
        k, self.count = self.count, self.count + 1
        if self.call == 0:
            self.first.append([p.data.copy() for p in params])
        mapped = any(id(memory_owner(p.data)) in self.mapped for p in params) or (
            self.call > 0 and k < len(self.first) and not all(
                _equal(a, p.data) for a, p in zip(self.first[k], params)))
        if mapped:
            raise RuntimeError(f"vmap: {name}: Vmap does not currently support same randomness with a batched tensor "
                               "input (a tensor the numbers depend on is mapped: PyTorch raises this error; use "
                               "randomness='different', or draw outside vmap)")

    def _check_target(self, name: str, into: Tensor) -> None:
        owner = memory_owner(into.data)
        if id(owner) in self.mapped:
            return
        seen = self.filled.get(id(owner))
        if id(owner) in self.unmapped or (seen is not None and seen[0]() is owner and seen[1] != self.call):
            raise RuntimeError(f"vmap: {name}: Cannot ask for different inplace randomness on an unbatched tensor "
                               f"(shape {tuple(into.shape)}, not mapped: an input with in_dim None or a tensor the "
                               "function captures or keeps between calls). This will appear like same randomness, "
                               "as PyTorch says: use randomness='same', or draw into a mapped tensor")
        self.filled[id(owner)] = (weakref.ref(owner), self.call)


def _equal(first: Any, now: Any) -> bool:
    """Same shape and values (NaN equal to NaN)."""
    return first.shape == now.shape and bool(((first == now) | ((first != first) & (now != now))).all())


@contextlib.contextmanager
def inputs_level(owners: set) -> Iterator[None]:
    """Around a transform's calls of its function: ``owners`` (ids of memory owners) are the inputs it passes
    at its level (a vmap's mapped inputs, a grad's arguments), which torch lets the function write in place;
    :func:`passed_to_every_level` reads them."""
    levels = _local.__dict__.setdefault("levels", [])
    levels.append(owners)
    try:
        yield
    finally:
        levels.pop()


def passed_to_every_level(array: Any) -> bool:
    """Whether ``array``'s memory is an input of every transform calling its function on this thread now (not
    captured from outside one of them): torch takes an in-place write into it, e.g. BatchNorm's running
    statistics in buffers stacked by ``stack_module_state`` and mapped by vmap."""
    owner = id(memory_owner(array))
    return all(owner in level for level in _local.__dict__.get("levels", ()))


def vmap_depth() -> int:
    """How many vmaps are calling their function on this thread right now (functional_call reads it)."""
    return getattr(_local, "depth", 0)


def _batched_inputs(in_dims: Any, args: tuple, name: str) -> tuple[int, list, list, _pytree.Spec]:
    """(batch size, one mapped dim or None per leaf of ``args``, the leaves, the spec), checked as torch's."""
    if not isinstance(in_dims, (int, tuple)) or isinstance(in_dims, bool):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int or a "
                         f"(potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you are trying "
                         "to vmap over a function with no inputs. The latter is unsupported.")
    flat_args, args_spec = _pytree.flatten(args)
    flat_dims = _prefix_dims(in_dims, args_spec, f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims")
    if flat_dims is None:
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                         f"structure of `inputs`. in_dims has structure {_pytree.flatten(in_dims)[1]} but inputs "
                         f"has structure {args_spec}.")
    where = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
    for i, (arg, dim) in enumerate(zip(flat_args, flat_dims)):
        if dim is None:
            continue
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise ValueError(f"{where}: Got in_dim={dim} for an input but in_dim must be either an integer "
                             "dimension or None.")
        if not isinstance(arg, Tensor):
            raise ValueError(f"{where}: Got in_dim={dim} for an input but the input is of type {type(arg)}. We cannot "
                             "vmap over non-Tensor arguments, please use None as the respective in_dim")
        if not -arg.ndim <= dim < arg.ndim:
            raise ValueError(f"{where}: Got in_dim={dim} for some input, but that input is a Tensor of "
                             f"dimensionality {arg.ndim} so expected in_dim to satisfy -{arg.ndim} <= in_dim "
                             f"< {arg.ndim}.")
        flat_dims[i] = dim % arg.ndim
    sizes = [arg.shape[dim] for arg, dim in zip(flat_args, flat_dims) if dim is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(size != sizes[0] for size in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0], flat_dims, flat_args, args_spec


def _prefix_dims(dims: Any, spec: _pytree.Spec, where: str, tuple_for_list: bool = False) -> list | None:
    """``dims`` (in_dims or out_dims) read against the inputs' or outputs' ``spec``, one per leaf (None when
    it does not fit), refusing a dict whose keys come in another order than the one it stands for.
    ``tuple_for_list`` (out_dims): a tuple stands for a list too (``split``, ``chunk`` and ``unbind`` give
    lists here, tuples in torch)."""
    try:
        return _pytree.broadcast_prefix(dims, spec, tuple_for_list)
    except _pytree.KeyOrderError as error:
        raise ValueError(f"{where}: {error}. PyTorch's vmap pairs such a dict's entries by position, not by key "
                         "(it would give one key's dim to another key's value); write the keys in the same "
                         "order.") from None


def _check_out_dims(out_dims: Any, name: str) -> None:
    if isinstance(out_dims, int) and not isinstance(out_dims, bool):
        return
    for dim in _pytree.flatten(out_dims)[0]:
        if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool)):
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, None or a python "
                             "collection of ints representing where in the outputs the vmapped dimension should "
                             "appear.")


def _flat_out_dims(out_dims: Any, output: Any, out_spec: _pytree.Spec, name: str) -> list:
    def incompatible() -> ValueError:
        return ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible with the "
                          f"structure of `outputs`. out_dims has structure {_pytree.flatten(out_dims)[1]} but "
                          f"outputs has structure {out_spec}.")
    if isinstance(output, Tensor):   # torch's edge case: a lone Tensor takes an int, None or a 1-tuple
        if out_dims is None or isinstance(out_dims, int):
            return [out_dims]
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        raise incompatible()
    flat = _prefix_dims(out_dims, out_spec, f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims",
                        tuple_for_list=True)
    if flat is None:
        raise incompatible()
    return flat


def _stacked(results: list, out_dims: Any, name: str, chunked: bool = False, inputs: tuple | list = ()) -> Any:
    """The outputs of the calls, each leaf stacked along its out_dim (a view of a mapped input where each call
    returned a view of it: see :func:`_view_of_input`; ``inputs``: the mapped inputs and their dims).
    ``chunked`` (a ``chunk_size`` was given): an out_dim None raises torch's TypeError (it concatenates the
    chunks' outputs along each out_dim)."""
    flat_results = []
    out_spec = None
    for result in results:
        flat, spec = _pytree.flatten(result)
        if out_spec is None:
            out_spec = spec
        elif spec != out_spec:
            raise ValueError(f"vmap({name}, ...): `{name}` returned outputs of different structures for different "
                             f"samples: {out_spec} and {spec}")
        flat_results.append(flat)
    assert out_spec is not None
    flat_dims = _flat_out_dims(out_dims, results[0], out_spec, name)
    outputs = []
    for j, dim in enumerate(flat_dims):
        values = [flat[j] for flat in flat_results]
        if dim is None:
            if chunked:
                raise TypeError(f"vmap({name}, ..., out_dims={out_dims}, chunk_size=...): an out_dim of None does "
                                "not work with chunk_size (PyTorch concatenates the chunks' outputs along each "
                                "out_dim: cat(): argument 'dim' must be int, not NoneType)")
            if isinstance(values[0], Tensor) and not _all_same(values):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None")
            outputs.append(values[0])
            continue
        if not isinstance(values[0], Tensor):
            raise NonTensorOutputError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                                       f"{type(values[0])}. Did you mean to set out_dims= to None for output?")
        dim = _out_dim(dim, values[0].ndim)
        view = _view_of_input(values, dim, inputs)
        outputs.append(stack(values, dim=dim) if view is None else view)
    return _pytree.unflatten(outputs, out_spec)


def _view_of_input(values: list, dim: int, inputs: tuple | list) -> Tensor | None:
    """``values`` (each call's output) as one view of a mapped input, batched along ``dim``, where each is a view
    of that input's memory one batch stride after the one before (``a``, ``a.t()``, ``a[0]``, ``a.add_(1)``), as
    torch's vmap returns them: an in-place change of the result reaches the input. None where they are not
    (copies, or any that requires grad: then they are stacked), or off the CPU."""
    first = values[0]
    if type(first.data) is not numpy.ndarray or first.data.base is None or any(v.requires_grad for v in values):
        return None
    key = _root_key(first.data)
    for arg, in_dim in inputs:
        if key is None or _root_key(arg.data) != key or arg.dtype != first.dtype:
            continue
        step = arg.stride(in_dim)
        _, start, _, strides = _storage(first.data)
        if step < 0 or min(strides, default=0) < 0:
            return None
        for i, value in enumerate(values):
            _, offset, _, value_strides = _storage(value.data)
            if _root_key(value.data) != key or value.shape != first.shape or value_strides != strides or \
                    offset != start + i * step:
                return None
        size = first.shape[:dim] + (len(values),) + first.shape[dim:]
        op = AsStrided(size, strides[:dim] + (step,) + strides[dim:], start)
        base = arg.detach()
        return track_view(base, op(base), op)
    return None


def _out_dim(dim: int, ndim: int) -> int:
    """``dim`` as a dim of the stacked output (``ndim + 1`` dims), or torch's IndexError when out of range."""
    if not -(ndim + 1) <= dim <= ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-(ndim + 1)}, {ndim}], but got {dim})")
    return dim % (ndim + 1)


def _all_same(values: list) -> bool:
    """Whether every call returned the same tensor (or equal values, NaN equal to NaN): an output that is not
    mapped."""
    first = values[0]
    for value in values[1:]:
        if value is first:
            continue
        if not isinstance(value, Tensor) or value.dtype != first.dtype or not _equal(first.data, value.data):
            return False
    return True


def _empty_batch(func: Callable, flat_dims: list, flat_args: list, args_spec: _pytree.Spec, kwargs: dict,
                 out_dims: Any, randomness: str, name: str) -> Any:
    """A mapped dimension of size 0: ``func`` runs once on a stand-in for one example to learn the outputs'
    shapes (torch runs its ops on empty tensors, which no value can make fail): zeros, then, if that raised,
    ones with identity matrices in the last two dims where they are square (what ``inv``, ``cholesky`` and
    integer division take). Its draws are undone (one raises in ``"error"`` mode, as torch's). Each output is
    empty along its out_dim and, where the call's output required grad, depends on the mapped inputs that
    require grad (their gradients are empty), as torch's."""
    first_error = None
    for fill in (_zeros_like, _identity_like):
        sample = [arg if dim is None else fill(arg, dim) for arg, dim in zip(flat_args, flat_dims)]
        draws = _GeneratorDraws("error" if randomness == "error" else "same")
        with own_host_stream(keep=False) as host:   # its draws are undone; another thread's are not its
            state = host.bit_generator.state
            try:
                with inside_transform(draws):
                    result = func(*_pytree.unflatten(sample, args_spec), **kwargs)
            except Exception as error:   # a value the function cannot take: the other stand-in, else this error
                first_error = first_error or error
                continue
            finally:
                drew = host.bit_generator.state != state
                draws.rewind()
        if drew and randomness == "error":
            raise RuntimeError(_RANDOM_ERROR)
        break
    else:
        raise first_error
    anchor = None   # 0 (an empty sum) depending on the mapped inputs that require grad (under no_grad too, for
    with enable_grad():   # what an enable_grad in func recorded, as in the non-empty case)
        for arg, dim in zip(flat_args, flat_dims):
            if dim is not None and arg.requires_grad:
                anchor = arg.sum() if anchor is None else anchor + arg.sum()
    flat, spec = _pytree.flatten(result)
    outputs = []
    for value, dim in zip(flat, _flat_out_dims(out_dims, result, spec, name)):
        if dim is None or not isinstance(value, Tensor):
            outputs.append(_stacked([value], dim, name))   # returns it, or raises torch's error for a non-Tensor
            continue
        shape = list(value.shape)
        shape.insert(_out_dim(dim, value.ndim), 0)
        empty = zeros(tuple(shape), dtype=value.dtype, device=value.device)
        with enable_grad():
            outputs.append(empty + anchor.to(value.dtype) if value.requires_grad and anchor is not None else empty)
    return _pytree.unflatten(outputs, spec)


def _example_shape(arg: Tensor, dim: int) -> tuple:
    return tuple(arg.shape[:dim]) + tuple(arg.shape[dim + 1:])


def _identity_like(arg: Tensor, dim: int) -> Tensor:
    """Ones of one example's shape, identity matrices in the last two dims where they are square; requiring
    grad where ``arg`` does."""
    shape = _example_shape(arg, dim)
    stand_in = ones(shape, dtype=arg.dtype, device=arg.device)
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        stand_in = stand_in * eye(shape[-1], dtype=arg.dtype, device=arg.device)
    return stand_in.requires_grad_() if arg.requires_grad else stand_in


def _zeros_like(arg: Tensor, dim: int) -> Tensor:
    stand_in = zeros(_example_shape(arg, dim), dtype=arg.dtype, device=arg.device)
    return stand_in.requires_grad_() if arg.requires_grad else stand_in


_RANDOM_ERROR = ("vmap: called random operation while in randomness error mode. Please either use the 'same' or "
                 "'different' randomness flags on vmap or perform the randomness operation out of vmap")


class _GeneratorDraws:
    """Sees each draw from a stream other than the host's (a ``generator=``, a GPU's) in the calls of one vmap:
    ``"error"`` raises torch's error at the draw; ``"same"`` keeps each stream's state before its first draw, for
    :meth:`rewind` to put back before the next call."""

    def __init__(self, randomness: str) -> None:
        self.randomness = randomness
        self.before: dict = {}   # id(stream) -> (the stream, its state before its first draw)

    def __call__(self, stream: Any) -> None:
        if self.randomness == "error":
            raise RuntimeError(_RANDOM_ERROR)
        if id(stream) in self.before:
            return
        if not isinstance(stream, numpy.random.Generator):
            raise NotImplementedError(f"vmap(..., randomness='{self.randomness}'): a draw from a GPU's random stream "
                                      f"({type(stream).__name__}) cannot be repeated for each example (its state "
                                      "cannot be copied); draw on the CPU and move the numbers with .to(device)")
        self.before[id(stream)] = (stream, stream.bit_generator.state)

    def rewind(self) -> None:
        for stream, state in self.before.values():
            stream.bit_generator.state = state


@contextlib.contextmanager
def randomness_checked(randomness: str, calls: int) -> Iterator[Callable[[], None]]:
    """Around the calls of one vmap (or jacfwd): yields ``start_call()``, to call before each. ``"error"``:
    a call that draws raises torch's error; ``"same"``: each call starts from the state the first did, of the
    host generator and of each ``generator=`` drawn from; ``"different"``: nothing. Inside, ``backward()``
    raises torch's error."""
    if randomness == "different":
        with inside_transform():
            yield lambda: None
        return
    with own_host_stream(keep=randomness == "same") as host:   # another thread's draws are not the calls'
        generator = host.bit_generator
        start = generator.state
        draws = _GeneratorDraws(randomness)

        def start_call() -> None:
            if randomness == "same":
                generator.state = start
                draws.rewind()
            elif generator.state != start:
                raise RuntimeError(_RANDOM_ERROR)

        with inside_transform(draws):
            yield start_call
        if randomness == "error":
            start_call()   # the last call's draws
