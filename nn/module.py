"""``nn.Module`` and ``nn.Parameter``: parameters registered by attribute assignment."""

from __future__ import annotations

from typing import Any, Iterator, Mapping, NamedTuple

import numpy

import minigrad as mg
from minigrad import Tensor

from ._compile_state import give_serial, reregistered, set_mode
from ._state_dict import check_state, load_arrays
from .hooks import RemovableHandle, add_hook, call_with_hooks, has_hooks


class Parameter(Tensor):
    """A Tensor that a Module registers as a trainable parameter (requires grad)."""

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        if isinstance(data, Tensor):
            data = data.data
        # an array keeps its dtype (a float64 tensor makes a float64 parameter); a list gets the default float
        super().__init__(data, dtype=getattr(data, "dtype", None), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(RuntimeError, ValueError):
    """A state dict does not fit the module: the message names every bad key."""


class LoadResult(NamedTuple):
    missing_keys: list
    unexpected_keys: list


class Module:
    """Base class of every layer and model.

    Assigning a :class:`Parameter`, a Module or a buffer (``register_buffer``)
    to an attribute registers it, in definition order. Calling a module runs
    ``forward`` inside a name scope named by its attribute name in its parent
    (a root module: its class name in lower case), so every op it records is
    labelled ``encoder/l0/t3``-style for the visualiser.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)
        give_serial(self)
        object.__setattr__(self, "_scope_name", type(self).__name__.lower())

    def __getstate__(self) -> dict:
        # a copy carries compile()'s settings, not its captures (they hold this module's op objects)
        state = self.__dict__.copy()
        state.pop("_compiled_call", None)
        return state

    def __setstate__(self, state: dict) -> None:
        """A copy (copy.copy, copy.deepcopy) is a module of its own: its own serial for its mode, and its
        own ``compile()`` if this one was compiled."""
        self.__dict__.update(state)
        give_serial(self)
        if "_compile_options" in state:
            self.compile(**state["_compile_options"])

    # --- registration ---

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if name == "training":   # model.training = False, as model.eval() does for one module
            set_mode(self, bool(value))
            return
        self._check_replacement(name, value)
        if self.__dict__.get(name, value) is not value and (
                name in self._parameters or name in self._modules or name in self._buffers):
            reregistered()   # a registered tensor or module replaced (mg.compile's guard)
        if name in self._buffers and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value   # a buffer stays a buffer (and in the state dict), as in PyTorch
            object.__setattr__(self, name, value)
            return
        # a Parameter (Module) assigned again, e.g. by `model.w -= ...` under no_grad, keeps its place, as in PyTorch
        keep = self._parameters if isinstance(value, Parameter) else \
            self._modules if isinstance(value, Module) else None
        for table in (self._parameters, self._modules, self._buffers):
            if table is not keep:
                table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
            value.name = name
        elif isinstance(value, Module):
            self._modules[name] = value
            object.__setattr__(value, "_scope_name", name)
            for path, param in value.named_parameters():
                param.name = f"{name}.{path}"
        object.__setattr__(self, name, value)

    def _check_replacement(self, name: str, value: Any) -> None:
        """PyTorch's rule: a registered parameter is replaced only by a Parameter (or None), a child
        module only by a Module (or None); a plain Tensor would silently drop out of ``parameters()``."""
        if value is None:
            return
        if name in self._parameters and not isinstance(value, Parameter):
            raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} as parameter {name!r} "
                            "(nn.Parameter or None expected); to change its values in place, write "
                            f"`with mg.no_grad(): self.{name}.copy_(...)` or `self.{name}.data[...] = ...`")
        if name in self._modules and not isinstance(value, Module):
            raise TypeError(f"{type(self).__name__}: cannot assign a {type(value).__name__} as child module "
                            f"{name!r} (nn.Module or None expected)")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._modules, self._buffers):
            if table.pop(name, None) is not None:
                reregistered()
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (None removes it: e.g. ``bias=False``)."""
        if param is None:
            if self._parameters.pop(name, None) is not None:
                reregistered()
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, value: Tensor | None, persistent: bool = True) -> None:
        """A non-trainable tensor moved by ``to()`` and saved in the state dict (unless ``persistent=False``)."""
        if self._buffers.get(name, value) is not value:
            reregistered()
        self._buffers[name] = value
        transient = self.__dict__.setdefault("_non_persistent", set())
        if persistent:
            transient.discard(name)
        else:
            transient.add(name)
        object.__setattr__(self, name, value)

    # --- calling ---

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        compiled = self.__dict__.get("_compiled_call")
        if compiled is not None:   # module.compile(): calls go through mg.compile
            return compiled(*args, **kwargs)
        return self._call(*args, **kwargs)

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        if has_hooks(self):
            return call_with_hooks(self, args, kwargs)
        with mg.name_scope(self._scope_name):
            return self.forward(*args, **kwargs)

    # --- hooks (nn/hooks.py); each returns a handle whose remove() removes it, as PyTorch's. A compiled
    # call through a module with hooks runs eagerly (a replay would skip them) ---

    def register_forward_pre_hook(self, hook: Any, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)``) before each ``forward``; it may return
        new args (or ``(args, kwargs)``)."""
        return add_hook(self, "forward_pre", hook, prepend, reregistered, with_kwargs=with_kwargs)

    def register_forward_hook(self, hook: Any, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) after each ``forward``;
        it may return a new output. ``always_call``: also when ``forward`` raised (output None)."""
        return add_hook(self, "forward", hook, prepend, reregistered, with_kwargs=with_kwargs,
                        always_call=always_call)

    def register_full_backward_pre_hook(self, hook: Any, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` when the gradients of the outputs are known; it may return new ones."""
        return add_hook(self, "backward_pre", hook, prepend, reregistered)

    def register_full_backward_hook(self, hook: Any, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` when the gradients of the tensor positional inputs are
        known (None for an input that needs none); it may return new ``grad_input``."""
        return add_hook(self, "backward", hook, prepend, reregistered)

    def compile(self, **kwargs: Any) -> None:
        """Compile this module's calls in place, as PyTorch's ``Module.compile``: ``mg.compile``'s
        keywords (``fullgraph=True`` …); the module stays this module (its parameters, modes, state dict)."""
        object.__setattr__(self, "_compiled_call", mg.compile(self._call, **kwargs))
        object.__setattr__(self, "_compile_options", dict(kwargs))

    # --- traversal ---

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """(dotted path, module) for this module and every descendant; a shared one once (unless
        ``remove_duplicate=False``). ``memo``: modules to skip, as PyTorch's."""
        seen = set() if memo is None else {id(m) for m in memo}
        stack = [(prefix, self)]
        while stack:
            path, module = stack.pop()
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield path, module
            children = [(f"{path}.{n}" if path else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_members(self, table: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        """(dotted path, tensor) of each module's ``_parameters`` or ``_buffers``, in definition order."""
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else iter([(prefix, self)])
        for path, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{path}.{name}" if path else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted path, parameter) in definition order; a shared parameter once (unless
        ``remove_duplicate=False``); ``recurse=False``: this module's own only."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted path, buffer), as :meth:`named_parameters`."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    # --- by name ---

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (as ``setattr``; None leaves a placeholder)."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{type(self).__name__}.add_module: the name must be a non-empty string without '.', "
                           f"got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {name!r} is a {type(module).__name__}, not a Module")
        if module is None:
            if self._modules.get(name) is not None:
                reregistered()
            self._modules[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, module)

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``""``: this one); AttributeError names the missing part."""
        module = self
        if target == "":
            return module
        for part in target.split("."):
            child = module._modules.get(part) if isinstance(module, Module) else None
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (in {target!r})")
            module = child
        return module

    def set_submodule(self, target: str, module: Module) -> None:
        """Replace the module at dotted path ``target`` (its parent must exist)."""
        parent, _, name = target.rpartition(".")
        owner = self.get_submodule(parent)
        if name not in owner._modules:
            raise AttributeError(f"{type(owner).__name__} has no submodule {name!r} (in {target!r})")
        setattr(owner, name, module)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``"layer.weight"``)."""
        return self._member(target, "_parameters", "parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``."""
        return self._member(target, "_buffers", "buffer")

    def _member(self, target: str, table: str, what: str) -> Any:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        value = getattr(module, table).get(name)
        if value is None:
            raise AttributeError(f"{type(module).__name__} has no {what} {name!r} (in {target!r})")
        return value

    def apply(self, fn: Any) -> Module:
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    # --- modes and gradients ---

    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            set_mode(module, bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's ``.grad`` (set to None, as PyTorch's default), or fill it with zeros
        in place (``set_to_none=False``)."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad.data[...] = 0   # the same .grad tensor, zeroed, as PyTorch's zero_()

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # --- devices and dtypes ---

    def to(self, device: Any = None, dtype: Any = None, non_blocking: bool = False) -> Module:
        """Move (in place) every parameter and buffer to ``device`` and/or cast floats to ``dtype``.

        Parameters keep their identity, so an optimizer built before the move
        still holds them (its state follows on its next step). As in PyTorch (and
        ``Tensor.to``), a dtype may also come first: ``model.to(mg.float64)``, or a
        tensor whose device and dtype to take: ``model.to(x)``. ``non_blocking`` is
        accepted and changes nothing (copies are synchronous).
        """
        if isinstance(device, Tensor):
            device, dtype = device.device, device.dtype if dtype is None else dtype
        if dtype is None and isinstance(device, (numpy.dtype, type)):
            device, dtype = None, device
        dev = mg.resolve_device(device) if device is not None else None
        dt = numpy.dtype(dtype) if dtype is not None else None
        if dt is not None and dt.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: dtype must be a floating type, got {dt}")

        def convert(array: Any, is_float: bool) -> Any:
            if dt is not None and is_float and array.dtype != dt:
                array = array.astype(dt)
            if dev is not None:
                array = mg.to_device(array, dev)
            return array

        for tensor in list(self.parameters()) + [b for _, b in self.named_buffers()]:
            is_float = tensor.dtype.kind == "f"
            tensor.data = convert(tensor.data, is_float)
            if tensor.grad is not None:
                tensor.grad.data = convert(tensor.grad.data, is_float)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device: int | None = None) -> Module:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def double(self) -> Module:
        return self.to(dtype=mg.float64)

    def float(self) -> Module:
        return self.to(dtype=mg.float32)

    def half(self) -> Module:
        return self.to(dtype=mg.float16)

    def bfloat16(self) -> Module:
        raise TypeError(f"{type(self).__name__}.bfloat16: NumPy has no bfloat16; use half() (float16) or float()")

    def type(self, dst_type: Any) -> Module:
        """Cast floating parameters and buffers to ``dst_type`` (a dtype), as PyTorch's ``Module.type``."""
        return self.to(dtype=dst_type)

    def share_memory(self) -> Module:
        """Nothing to do: NumPy arrays are plain process memory (kept so PyTorch code runs unchanged)."""
        return self

    # --- state ---

    def state_dict(self, *args: Any, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> dict:
        """Dotted name → Tensor sharing the parameter's (or buffer's) array, as PyTorch's: keys start with
        ``prefix``, go into ``destination`` if given, and ``keep_vars=True`` gives the Parameters themselves."""
        if args:   # PyTorch's old positional form: (destination, prefix, keep_vars)
            if len(args) > 3:
                raise TypeError(f"{type(self).__name__}.state_dict: at most 3 positional arguments, got {len(args)}")
            destination, prefix, keep_vars = (*args, *(destination, prefix, keep_vars)[len(args):])
        state = {} if destination is None else destination
        for name, tensor in self._state_items(prefix):
            state[name] = tensor if keep_vars else tensor.detach()
        return state

    def _state_items(self, prefix: str) -> Iterator[tuple[str, Tensor]]:
        """What the state dict holds, in PyTorch's order: this module's parameters, its persistent buffers,
        then each child's, recursively; a shared parameter or module under each of its names, as PyTorch."""
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, param
        transient = self.__dict__.get("_non_persistent", ())
        for name, buf in self._buffers.items():
            if buf is not None and name not in transient:
                yield prefix + name, buf
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_items(f"{prefix}{name}.")

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True, assign: bool = False) -> LoadResult:
        """Copy arrays from ``state`` (Tensors or NumPy arrays) into this module.

        Every name and shape is checked first; if anything is wrong nothing is
        changed and :class:`StateDictError` names each missing, unexpected and
        mis-shaped key. Values are cast to each parameter's dtype and copied
        to its device, into its array, as PyTorch does (a graph that saved the
        old values then refuses a backward, as after any in-place change).
        ``assign=True`` makes each parameter and buffer take the given array itself
        (its dtype and device; no copy), as PyTorch's ``assign``.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a mapping of name → array, "
                            f"got {type(state).__name__}")
        own = dict(self._state_items(""))
        arrays, missing, unexpected, problems = check_state(own, state, strict, assign)
        if problems:
            raise StateDictError(f"{type(self).__name__}.load_state_dict: the state dict does not fit; "
                                 "nothing was loaded:\n" + "\n".join(problems))
        load_arrays(own, arrays, assign)
        return LoadResult(missing, unexpected)

    # --- printing ---

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (f"{extra}" if extra else "")
        return head + "\n" + "\n".join(lines) + "\n)"
