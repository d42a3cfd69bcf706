"""``functionalize``: PyTorch's ``torch.func.functionalize``, as far as its results can be told apart.

minigrad has no functionalization pass (no program of ATen ops to rewrite for a compiler): an in-place op on an
intermediate tensor already gives the values its out-of-place form gives, and an input the function mutates is
mutated, as PyTorch's "fix-up" copies the new values back into it. What a caller can still tell apart is
aliasing: PyTorch's outputs never share memory with an input that the call mutated (they are new tensors holding
the values), nor, with ``remove='mutations_and_views'``, with any input (its views become copies); an input
returned untouched is that input. So those outputs are cloned here (their gradients flow through the clone).
A custom ``autograd.Function`` applied inside raises PyTorch's RuntimeError (it has no functionalization rule).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from ..autograd.custom import FUNCTIONALIZING
from ..tensor import Tensor
from ..versions import memory_owner
from . import _pytree

__all__ = ["functionalize"]

_REMOVE = ("mutations", "mutations_and_views")


def functionalize(func: Callable[..., Any], *, remove: str = "mutations") -> Callable[..., Any]:
    """``func`` with the same values and input mutations, whose tensor outputs alias its inputs as PyTorch's
    functionalized function's do (see the module docstring). ``remove``: 'mutations' or 'mutations_and_views'
    (then no output but an input itself shares an input's memory)."""
    if remove not in _REMOVE:
        raise RuntimeError(f"functionalize({getattr(func, '__name__', func)!s}): received invalid argument for "
                           f"remove={remove}; valid options are 'mutations' and 'mutations_and_views'")

    @functools.wraps(func)
    def functionalized(*args: Any, **kwargs: Any) -> Any:
        inputs = [leaf for leaf in _pytree.flatten((args, kwargs))[0] if isinstance(leaf, Tensor)]
        versions = [x._version for x in inputs]
        FUNCTIONALIZING.depth += 1   # a custom Function called inside raises, as PyTorch's
        try:
            out = func(*args, **kwargs)
        finally:
            FUNCTIONALIZING.depth -= 1
        owners = {id(memory_owner(x.data)) for x in inputs}
        mutated = {id(memory_owner(x.data)) for x, version in zip(inputs, versions) if x._version != version}

        def untied(y: Any) -> Any:
            if not isinstance(y, Tensor) or id(memory_owner(y.data)) not in owners:
                return y
            if id(memory_owner(y.data)) in mutated:
                return y.clone()
            returned_input = any(y is x for x in inputs)
            return y.clone() if remove == "mutations_and_views" and not returned_input else y

        return _pytree.tree_map(untied, out)

    return functionalized
