"""Basic layers (Linear, Embedding, Dropout, Identity, Flatten, Unflatten) and containers (Sequential,
ModuleList, ModuleDict, ParameterList, ParameterDict).

Every constructor takes PyTorch's factory keywords ``device=None, dtype=None``
(float32 on the default device unless told otherwise) and initialises its
parameters as PyTorch does, from the engine's generator (``mg.manual_seed``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

import numpy

import minigrad as mg
from minigrad import Tensor

from . import functional as F
from . import init
from .module import Module, Parameter, reregistered

__all__ = ["Dropout", "Embedding", "Flatten", "Identity", "Linear", "ModuleDict", "ModuleList", "ParameterDict",
           "ParameterList", "Sequential", "Unflatten"]


def _float_dtype(dtype: Any, name: str) -> Any:
    dt = mg.get_default_dtype() if dtype is None else numpy.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{name}: dtype must be a floating type, got {dt}")
    return dt


def _positive(value: Any, what: str, name: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name}: {what} must be a {'non-negative' if allow_zero else 'positive'} int, "
                         f"got {value!r}")
    return value


class Linear(Module):
    """y = x Wᵀ + b.  x: (*, in_features) → (*, out_features).

    ``weight``: (out_features, in_features), ``bias``: (out_features,), both
    U(-1/√in_features, 1/√in_features) as PyTorch (kaiming_uniform with a=√5).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = _positive(in_features, "in_features", "Linear", allow_zero=True)
        self.out_features = _positive(out_features, "out_features", "Linear", allow_zero=True)
        dt = _float_dtype(dtype, "Linear")
        self.weight = Parameter(mg.empty(out_features, in_features, dtype=dt, device=device))
        if bias:
            self.bias = Parameter(mg.empty(out_features, dtype=dt, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if isinstance(x, Tensor) and x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear(in_features={self.in_features}, out_features={self.out_features}): "
                             f"expected input of shape (*, {self.in_features}), got {x.shape}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: integer indices of any shape S → (*S, embedding_dim), as ``torch.nn.Embedding``.

    ``weight``: (num_embeddings, embedding_dim), N(0, 1) as PyTorch; the row
    ``padding_idx`` (if given) starts at zero and never receives a gradient.
    Indices may be an integer Tensor, a NumPy array or a list. ``max_norm``,
    ``norm_type`` and ``scale_grad_by_freq`` are :func:`F.embedding`'s;
    ``_weight`` (used as the weight, not reinitialised) and ``_freeze`` are what
    :meth:`from_pretrained` passes. ``sparse=True`` is refused (no sparse gradients).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = _positive(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _positive(embedding_dim, "embedding_dim", "Embedding", allow_zero=True)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within [-{num_embeddings}, "
                                 f"{num_embeddings - 1}] for num_embeddings={num_embeddings}")
            padding_idx %= num_embeddings
        if sparse:
            raise ValueError("Embedding: sparse=True needs sparse gradients, which minigrad does not have")
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), False
        if _weight is None:
            dt = _float_dtype(dtype, "Embedding")
            self.weight = Parameter(mg.empty(num_embeddings, embedding_dim, dtype=dt, device=device),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(_weight.shape)}, expected "
                                 f"({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (V, D), frozen unless ``freeze=False``, as PyTorch's."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ValueError("Embedding.from_pretrained: embeddings must be a 2-D Tensor, got "
                             f"{getattr(embeddings, 'shape', type(embeddings).__name__)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with mg.no_grad():
                self.weight.data[self.padding_idx] = 0

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text


class Dropout(Module):
    """Inverted dropout: in training, zero each entry with probability p and scale the rest by 1/(1-p);
    the identity in ``eval()`` mode. Any shape in, the same shape out."""

    def __init__(self, p: float = 0.5, inplace: bool = False, *, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability p must be in [0, 1], got {p!r}")
        if not isinstance(inplace, (bool, numpy.bool_)):
            raise TypeError(f"Dropout: inplace must be a bool, got {inplace!r}")
        self.p, self.inplace = float(p), bool(inplace)   # inplace: the same values, as a new tensor

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for an optional layer)."""

    def __init__(self, *args: Any, device: Any = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(2, 8), Tanh(), Linear(8, 1))``.

    Children are named ``0``, ``1``, … (or by the keys of one OrderedDict
    argument), so parameters read ``0.weight``, ``2.bias``.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, module in items:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: item {name!r} is a {type(module).__name__}, not a Module")
            setattr(self, name, module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Put ``module`` before position ``index`` (as list.insert); the children are numbered anew."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: expected a Module, got {type(module).__name__}")
        modules = list(self._modules.values())
        length = len(modules)
        if isinstance(index, bool) or not hasattr(index, "__index__") or not -length <= index.__index__() <= length:
            raise IndexError(f"Sequential.insert: index {index!r} is out of range for {length} modules")
        modules.insert(index.__index__(), module)
        self._renumber(modules)
        return self

    def pop(self, index: int | slice) -> Any:
        module = self[index]
        del self[index]
        return module

    def _renumber(self, modules: list) -> None:
        """The children ``modules``, named 0, 1, … (as PyTorch renumbers after a deletion)."""
        for key in list(self._modules):
            delattr(self, key)
        for i, module in enumerate(modules):
            setattr(self, str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[_list_index(index, len(modules), "Sequential")]

    def __setitem__(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: item {index!r} must be a Module, got {type(module).__name__}")
        keys = list(self._modules)
        setattr(self, keys[_list_index(index, len(keys), "Sequential")], module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_list_index(index, len(modules), "Sequential")]
        self._renumber(modules)


def _list_index(index: Any, length: int, name: str) -> int:
    if isinstance(index, bool) or not hasattr(index, "__index__"):
        raise TypeError(f"{name}: indices must be integers or slices, got {type(index).__name__}")
    index = index.__index__()
    if not -length <= index < length:
        raise IndexError(f"{name}: index {index} is out of range for {length} modules")
    return index % length


class _Container(Module):
    """A module that holds children by key; each child's name scope is ``<container>.<key>``.

    A container has no ``forward``: its parent calls the children, and
    ``layers.0`` then labels the ops of ``self.layers[0]`` as its parameter
    path ``layers.0.weight`` does.
    """

    @property
    def _scope_name(self) -> str:
        return self.__dict__["_container_scope"]

    @_scope_name.setter
    def _scope_name(self, name: str) -> None:
        self.__dict__["_container_scope"] = name
        for key, child in self._modules.items():
            object.__setattr__(child, "_scope_name", f"{name}.{key}")

    def _put(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: {key!r} is a {type(module).__name__}, not a Module")
        if self._modules.get(key, module) is not module:
            reregistered()
        self._modules[key] = module
        object.__setattr__(module, "_scope_name", f"{self._scope_name}.{key}")
        # a container already assigned to a parent (e.g. `self.layers.append(...)` after
        # `self.layers = ModuleList()`) names the new parameters from that attribute
        assigned = self._scope_name != type(self).__name__.lower()
        prefix = f"{self._scope_name}.{key}" if assigned else key
        for path, param in module.named_parameters():
            param.name = f"{prefix}.{path}"

    def __len__(self) -> int:
        return len(self._modules)

    def __getattr__(self, name: str) -> Module:
        # only reached when normal lookup fails: `model.heads.score` as in PyTorch
        modules = self.__dict__.get("_modules", {})
        if name in modules:
            return modules[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or module {name!r}")


class ModuleList(_Container):
    """A list of modules whose parameters the parent registers (``layers.0.weight``, …)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _reindex(self, modules: list) -> None:
        reregistered()
        self._modules.clear()
        for i, module in enumerate(modules):
            self._put(str(i), module)

    def append(self, module: Module) -> ModuleList:
        self._put(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend: expected an iterable of Modules, got a single Module")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._reindex(modules)

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_list_index(index, len(modules), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        self._put(str(_list_index(index, len(self._modules), "ModuleList")), module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_list_index(index, len(modules), "ModuleList")]
        self._reindex(modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList(list(self) + list(other))


class ModuleDict(_Container):
    """A dict of modules (insertion order) whose parameters the parent registers (``heads.a.weight``)."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _check_key(self, key: Any) -> str:
        if not isinstance(key, str) or not key or "." in key or "/" in key:
            raise KeyError(f"ModuleDict: keys must be non-empty strings without '.' or '/', got {key!r}")
        return key

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module {key!r} (keys: {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self._put(self._check_key(key), module)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def keys(self) -> list[str]:
        return list(self._modules.keys())

    def values(self) -> list[Module]:
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def pop(self, key: str) -> Module:
        module = self[key]
        del self._modules[key]
        reregistered()
        return module

    def clear(self) -> None:
        if self._modules:
            reregistered()
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for pair in pairs:
            key, module = pair
            self[key] = module


class Flatten(Module):
    """Flatten dims ``start_dim`` … ``end_dim`` into one, as ``torch.nn.Flatten`` (by default all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (one entry may be -1), as ``torch.nn.Unflatten``:
    (…, n, …) → (…, *unflattened_size, …)."""

    def __init__(self, dim: int, unflattened_size: Iterable[int]) -> None:
        super().__init__()
        sizes = tuple(unflattened_size)
        if not sizes or not all(isinstance(n, int) and not isinstance(n, bool) for n in sizes):
            raise TypeError("Unflatten: unflattened_size must be a non-empty sequence of ints, "
                            f"got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(x.shape)
        dim = self.dim + len(shape) if self.dim < 0 else self.dim
        if not 0 <= dim < len(shape):
            raise IndexError(f"Unflatten: dim {self.dim} is out of range for a tensor of shape {shape}")
        sizes = self.unflattened_size
        known = math.prod(n for n in sizes if n != -1)
        if (-1 not in sizes and known != shape[dim]) or (-1 in sizes and (known == 0 or shape[dim] % known)):
            raise ValueError(f"Unflatten: cannot split dim {self.dim} of size {shape[dim]} into {sizes}")
        return x.reshape(*shape[:dim], *sizes, *shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


def _as_parameter(value: Any, name: str) -> Any:
    """A Tensor that is not a Parameter becomes one, as in PyTorch's ParameterList/ParameterDict."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    if not isinstance(value, Parameter):
        raise TypeError(f"{name}: expected a Parameter or a Tensor, got {type(value).__name__}")
    return value


class ParameterList(Module):
    """A list of parameters registered as ``0``, ``1``, … (``plist.0`` in the state dict), as
    ``torch.nn.ParameterList``; a Tensor put in becomes a Parameter."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._parameters.values()))

    def __getitem__(self, index: int | slice) -> Any:
        values = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(values[index])
        return values[_list_index(index, len(values), "ParameterList")]

    def __setitem__(self, index: int, value: Any) -> None:
        setattr(self, str(_list_index(index, len(self), "ParameterList")), _as_parameter(value, "ParameterList"))

    def append(self, value: Any) -> ParameterList:
        setattr(self, str(len(self)), _as_parameter(value, "ParameterList"))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        for value in values:
            self.append(value)
        return self

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): Parameter containing: [{p.dtype} of size {'x'.join(map(str, p.shape))}]"
                         for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of parameters by name (insertion order), as ``torch.nn.ParameterDict``; a Tensor put in
    becomes a Parameter."""

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def _check_key(self, key: Any) -> str:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ParameterDict: keys must be non-empty strings without '.', got {key!r}")
        return key

    def __getitem__(self, key: str) -> Parameter:
        if key not in self._parameters:
            raise KeyError(f"ParameterDict: no parameter {key!r} (keys: {list(self._parameters)})")
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, self._check_key(key), _as_parameter(value, "ParameterDict"))

    def __delitem__(self, key: str) -> None:
        self[key]   # noqa: B018 - the KeyError naming the keys
        delattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._parameters))

    def keys(self) -> list[str]:
        return list(self._parameters)

    def values(self) -> list[Parameter]:
        return list(self._parameters.values())

    def items(self) -> list[tuple[str, Parameter]]:
        return list(self._parameters.items())

    def get(self, key: str, default: Any = None) -> Any:
        return self._parameters.get(key, default)

    def pop(self, key: str) -> Parameter:
        value = self[key]
        del self[key]
        return value

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        pairs = parameters.items() if isinstance(parameters, (Mapping, ParameterDict)) else parameters
        for key, value in pairs:
            self[key] = value
