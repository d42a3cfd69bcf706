"""The few pytree helpers the transforms need, as ``torch.utils._pytree`` reads nested containers.

A pytree is a tuple, list, dict (insertion order; an OrderedDict too) or namedtuple of pytrees; anything
else (a Tensor, a number, None) is a leaf. :func:`flatten` gives the leaves in order and a :class:`Spec`
that :func:`unflatten` rebuilds the same structure from; :func:`broadcast_prefix` reads a prefix tree
(``in_dims``/``out_dims``: one int or None standing for a whole subtree) against a full tree's spec.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple


class Spec(NamedTuple):
    """A tree's structure: ``kind`` None for a leaf, else the container's type, with its dict keys
    (``context``) and one Spec per child."""

    kind: Any
    context: Any
    children: tuple

    @property
    def num_leaves(self) -> int:
        if self.kind is None:
            return 1
        return sum(child.num_leaves for child in self.children)

    def __repr__(self) -> str:   # torch's TreeSpec repr, for the same error messages
        return self._repr(0)

    def _repr(self, indent: int) -> str:
        if self.kind is None:
            return "*"
        separator = ",\n" + " " * (indent + 2)
        children = separator.join(child._repr(indent + 2) for child in self.children)
        context = None if self.context is None else list(self.context)
        return f"TreeSpec({self.kind.__name__}, {context}, [{children}])"

    def pprint(self) -> str:
        """The short form torch's ``treespec_pprint`` prints: ``(*, *)``, ``[*]``, ``{'a': *}``."""
        if self.kind is None:
            return "*"
        parts = [child.pprint() for child in self.children]
        if self.context is not None:
            return "{" + ", ".join(f"{key!r}: {part}" for key, part in zip(self.context, parts)) + "}"
        if issubclass(self.kind, list):
            return "[" + ", ".join(parts) + "]"
        if len(parts) == 1:
            return f"({parts[0]},)"
        return "(" + ", ".join(parts) + ")"


LEAF = Spec(None, None, ())


def _node(tree: Any) -> tuple[Any, Any, list] | None:
    """(kind, context, children) of a container, None for a leaf."""
    if isinstance(tree, (tuple, list)):
        return type(tree), None, list(tree)
    if isinstance(tree, dict):
        return type(tree), tuple(tree), list(tree.values())
    return None


def flatten(tree: Any) -> tuple[list, Spec]:
    """The leaves of ``tree`` in order (depth first) and its :class:`Spec`."""
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree: Any, leaves: list) -> Spec:
    node = _node(tree)
    if node is None:
        leaves.append(tree)
        return LEAF
    kind, context, children = node
    return Spec(kind, context, tuple(_flatten(child, leaves) for child in children))


def unflatten(leaves: list, spec: Spec) -> Any:
    """The tree of structure ``spec`` holding ``leaves`` in order."""
    it = iter(leaves)
    return _unflatten(it, spec)


def _unflatten(it: Any, spec: Spec) -> Any:
    if spec.kind is None:
        return next(it)
    children = [_unflatten(it, child) for child in spec.children]
    if spec.context is not None:
        pairs = zip(spec.context, children)
        return spec.kind(pairs) if spec.kind in (dict, OrderedDict) else dict(pairs)
    if spec.kind is tuple or spec.kind is list:
        return spec.kind(children)
    if issubclass(spec.kind, tuple) and hasattr(spec.kind, "_fields"):
        return spec.kind(*children)
    return spec.kind(children)


class KeyOrderError(ValueError):
    """A dict of the prefix tree lists the tree's keys in another order (see :func:`broadcast_prefix`)."""


def broadcast_prefix(prefix: Any, spec: Spec, tuple_for_list: bool = False) -> list | None:
    """One entry per leaf of ``spec``: ``prefix``'s leaf standing over it (a leaf of ``prefix`` covers a
    whole subtree). None when ``prefix`` is not a prefix of the tree (another container type, length or
    keys), as torch's ``_broadcast_to_and_flatten``. A dict of ``prefix`` with the tree's keys in another
    order raises :class:`KeyOrderError`: torch pairs such dicts' entries by position, not by key, so
    neither reading would be safe. ``tuple_for_list``: a tuple of ``prefix`` also stands for a list of the
    tree (``out_dims=(0, 1)`` for ``split``'s outputs, a list here and a tuple in torch)."""
    node = _node(prefix)
    if node is None:
        return [prefix] * spec.num_leaves
    kind, context, children = node
    if spec.kind is None or len(children) != len(spec.children):
        return None
    if not (_same_kind(kind, spec.kind) or tuple_for_list and kind is tuple and spec.kind is list):
        return None
    if context is not None:
        if set(context) != set(spec.context):
            return None
        if tuple(context) != tuple(spec.context):
            raise KeyOrderError(f"a dict with keys {list(context)} stands for one with keys {list(spec.context)} "
                                "(another order)")
    out: list = []
    for child, child_spec in zip(children, spec.children):
        part = broadcast_prefix(child, child_spec, tuple_for_list)
        if part is None:
            return None
        out.extend(part)
    return out


def _same_kind(a: type, b: type) -> bool:
    if issubclass(a, dict) and issubclass(b, dict):
        return True
    return a is b


def tree_map(fn: Any, tree: Any) -> Any:
    leaves, spec = flatten(tree)
    return unflatten([fn(leaf) for leaf in leaves], spec)
