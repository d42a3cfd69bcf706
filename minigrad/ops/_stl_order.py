"""PyTorch's CPU ``topk`` and ``sort`` order among equal values: a port of the C++ standard library's selection
and sort.

PyTorch's CPU topk (aten/src/ATen/native/TopKImpl.h) fills a queue of (value, index) pairs per line and calls
``std::partial_sort`` (when 64·k <= n) or ``std::nth_element`` then ``std::sort`` of the first k - 1 pairs, with
NaN counted as the largest value; its ``sort(stable=False)`` calls ``std::sort`` on each line
(SortingKernel.cpp). Those algorithms are not stable: which of several equal values comes first (and so which
index, and which element gets the gradient) depends on their exact steps. This module replays the steps of GNU
libstdc++'s versions (bits/stl_algo.h, bits/stl_heap.h), which PyTorch's Linux wheels use, on a Python list of
pairs. Only the lines where equal values meet the selection run here (pure Python); the others take the stable
order, which is the same.
"""

from __future__ import annotations

from typing import Callable

Less = Callable[[tuple, tuple], bool]
# elements per op call at most whose lines are replayed here (pure Python, slow): past it, callers keep the
# stable order
MAX_REPLAYED = 1 << 13
_THRESHOLD = 16   # libstdc++'s _S_threshold: ranges up to this size are insertion-sorted


def _larger(a: tuple, b: tuple) -> bool:
    """PyTorch's comparator for largest=True: NaN first, then descending."""
    x, y = a[0], b[0]
    return (x != x and y == y) or x > y


def _smaller(a: tuple, b: tuple) -> bool:
    """PyTorch's comparator for largest=False: ascending, NaN last."""
    x, y = a[0], b[0]
    return (x == x and y != y) or x < y


# --- heaps (bits/stl_heap.h) --------------------------------------------------------------------------

def _push_heap(q: list, first: int, hole: int, top: int, value: tuple, less: Less) -> None:
    """std::__push_heap: move ``value`` up from the empty slot ``hole`` (heap offsets from ``first``) past the
    parents that are ``less`` than it, not above ``top``; a max-heap by ``less``, as the STL's."""
    parent = (hole - 1) // 2
    while hole > top and less(q[first + parent], value):
        q[first + hole] = q[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    q[first + hole] = value


def _adjust_heap(q: list, first: int, hole: int, length: int, value: tuple, less: Less) -> None:
    """std::__adjust_heap: sift the hole at ``hole`` down to a leaf along the larger children, then push
    ``value`` up from there (the STL's order of comparisons, which decides ties)."""
    top, child = hole, hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if less(q[first + child], q[first + child - 1]):
            child -= 1
        q[first + hole] = q[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        q[first + hole] = q[first + child - 1]
        hole = child - 1
    _push_heap(q, first, hole, top, value, less)


def _make_heap(q: list, first: int, last: int, less: Less) -> None:
    """std::make_heap of q[first:last]."""
    length = last - first
    if length < 2:
        return
    for parent in range((length - 2) // 2, -1, -1):
        _adjust_heap(q, first, parent, length, q[first + parent], less)


def _pop_heap(q: list, first: int, last: int, result: int, less: Less) -> None:
    """std::__pop_heap: the heap q[first:last]'s top goes to ``result``, whose pair is sifted into the heap."""
    value = q[result]
    q[result] = q[first]
    _adjust_heap(q, first, 0, last - first, value, less)


def _heap_select(q: list, first: int, middle: int, last: int, less: Less) -> None:
    """std::__heap_select: the ``middle - first`` smallest pairs (by ``less``) of q[first:last] into a heap in
    q[first:middle]."""
    _make_heap(q, first, middle, less)
    for i in range(middle, last):
        if less(q[i], q[first]):
            _pop_heap(q, first, middle, i, less)


def _partial_sort(q: list, first: int, middle: int, last: int, less: Less) -> None:
    """std::partial_sort: the smallest middle - first pairs (by ``less``) sorted into [first, middle)."""
    _heap_select(q, first, middle, last, less)
    while middle - first > 1:   # __sort_heap
        middle -= 1
        _pop_heap(q, first, middle, middle, less)


# --- quicksort steps (bits/stl_algo.h) ----------------------------------------------------------------

def _median_to_first(q: list, result: int, a: int, b: int, c: int, less: Less) -> None:
    """std::__move_median_to_first: swap the median of q[a], q[b], q[c] into q[result]."""
    if less(q[a], q[b]):
        pick = b if less(q[b], q[c]) else c if less(q[a], q[c]) else a
    else:
        pick = a if less(q[a], q[c]) else c if less(q[b], q[c]) else b
    q[result], q[pick] = q[pick], q[result]


def _partition_pivot(q: list, first: int, last: int, less: Less) -> int:
    """__unguarded_partition_pivot: the median of three moved to ``first``, the rest split around it."""
    _median_to_first(q, first, first + 1, first + (last - first) // 2, last - 1, less)
    pivot, lo, hi = q[first], first + 1, last
    while True:
        while less(q[lo], pivot):
            lo += 1
        hi -= 1
        while less(pivot, q[hi]):
            hi -= 1
        if not lo < hi:
            return lo
        q[lo], q[hi] = q[hi], q[lo]
        lo += 1


def _linear_insert(q: list, last: int, less: Less) -> None:
    """std::__unguarded_linear_insert: move q[last] left past the pairs it is ``less`` than (one it is not is
    known to lie before it, so no bound is checked)."""
    value, prev = q[last], last - 1
    while less(value, q[prev]):
        q[last] = q[prev]
        last, prev = prev, prev - 1
    q[last] = value


def _insertion_sort(q: list, first: int, last: int, less: Less) -> None:
    """std::__insertion_sort of q[first:last]."""
    for i in range(first + 1, last):
        if less(q[i], q[first]):
            value = q[i]
            q[first + 1:i + 1] = q[first:i]
            q[first] = value
        else:
            _linear_insert(q, i, less)


def _lg(n: int) -> int:
    """std::__lg: floor(log2(n)), for n > 0."""
    return n.bit_length() - 1


def _introsort_loop(q: list, first: int, last: int, depth: int, less: Less) -> None:
    """std::__introsort_loop: quicksort q[first:last] down to runs of ``_THRESHOLD`` left unsorted (the final
    insertion sort finishes them), switching to a heap sort after ``depth`` levels."""
    while last - first > _THRESHOLD:
        if depth == 0:
            _partial_sort(q, first, last, last, less)
            return
        depth -= 1
        cut = _partition_pivot(q, first, last, less)
        _introsort_loop(q, cut, last, depth, less)
        last = cut


def stl_sort(q: list, first: int, last: int, less: Less) -> None:
    """std::sort of q[first:last] (introsort, then an insertion sort)."""
    if last - first < 2:
        return
    _introsort_loop(q, first, last, _lg(last - first) * 2, less)
    if last - first > _THRESHOLD:
        _insertion_sort(q, first, first + _THRESHOLD, less)
        for i in range(first + _THRESHOLD, last):
            _linear_insert(q, i, less)
    else:
        _insertion_sort(q, first, last, less)


def nth_element(q: list, nth: int, less: Less) -> None:
    """std::nth_element: q[nth] is the pair a full sort would put there, smaller ones before it (introselect)."""
    first, last = 0, len(q)
    if first == last or nth == last:
        return
    depth = _lg(last - first) * 2
    while last - first > 3:
        if depth == 0:
            _heap_select(q, first, nth + 1, last, less)
            q[first], q[nth] = q[nth], q[first]
            return
        depth -= 1
        cut = _partition_pivot(q, first, last, less)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(q, first, last, less)


def sort_line(values: list, descending: bool) -> list:
    """The indices PyTorch's CPU ``sort(stable=False)`` orders one line of ``values`` by (std::sort)."""
    q = list(zip(values, range(len(values))))
    stl_sort(q, 0, len(q), _larger if descending else _smaller)
    return [index for _, index in q]


def topk_line(values: list, k: int, largest: bool, ordered: bool) -> list:
    """The indices PyTorch's CPU topk returns for one line of ``values`` (Python numbers), in its order."""
    n = len(values)
    if k == 0:
        return []
    less = _larger if largest else _smaller
    q = list(zip(values, range(n)))
    if k * 64 <= n:
        _partial_sort(q, 0, k, n, less)
    else:
        nth_element(q, k - 1, less)
        if ordered:
            stl_sort(q, 0, k - 1, less)
    return [index for _, index in q[:k]]


__all__ = ["MAX_REPLAYED", "nth_element", "sort_line", "stl_sort", "topk_line"]
