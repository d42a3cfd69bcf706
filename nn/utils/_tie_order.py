"""The order in which PyTorch sorts a batch's lengths, ties included: ``torch.sort(lengths, descending=True)``.

``pack_padded_sequence(..., enforce_sorted=False)`` orders the sequences by decreasing length with PyTorch's
(unstable) CPU sort, which is libstdc++'s ``std::sort``: an introsort of (length, index) pairs that leaves 16
elements or fewer to an insertion sort. Sequences of equal length therefore keep their batch order in a batch of
at most 16 (a stable sort's order) but not in a larger one, and that order is ``sorted_indices`` and the order of
the rows of the packed ``data``. :func:`descending_order` replays the same steps (median-of-three pivot, unguarded
partition, heapsort past the depth limit, final insertion sort), so a packed batch is PyTorch's row for row.
(``mg.sort`` replays the same order for tensors; packing sorts host lengths here instead, so that an
``mg.compile``'d step that packs records no op whose values decide its layout.)
"""

from __future__ import annotations

import numpy

THRESHOLD = 16        # libstdc++'s _S_threshold: shorter runs are left to the final insertion sort


def descending_order(values: numpy.ndarray) -> numpy.ndarray:
    """The permutation that sorts the ints ``values`` (B,) in decreasing order, as ``torch.sort(values,
    descending=True)`` on the CPU: the stable order where it is the same (B ≤ 16, or no two equal), else
    :class:`_Introsort`'s."""
    stable = numpy.argsort(-values, kind="stable")
    if len(values) <= THRESHOLD or len(numpy.unique(values)) == len(values):
        return stable
    return numpy.array(_Introsort([int(v) for v in values]).order(), dtype=numpy.int64)


class _Introsort:
    """libstdc++'s ``std::sort`` (bits/stl_algo.h, bits/stl_heap.h) on (key, index) pairs, comparing keys by
    ``>`` (PyTorch's descending comparator: ``comp(a, b)`` is ``a[0] > b[0]``, written out where it runs, as
    this is a loop in Python). Each method is the libstdc++ function of the same name."""

    def __init__(self, keys: list[int]) -> None:
        self.pairs = [(key, index) for index, key in enumerate(keys)]

    def order(self) -> list[int]:
        """std::sort of the pairs: the keys' indices in the sorted order (B,)."""
        n = len(self.pairs)
        self.introsort_loop(0, n, 2 * (n.bit_length() - 1))
        self.insertion_sort(0, THRESHOLD)                 # __final_insertion_sort, n > 16
        for i in range(THRESHOLD, n):
            self.unguarded_linear_insert(i)
        return [index for _, index in self.pairs]

    def swap(self, i: int, j: int) -> None:
        self.pairs[i], self.pairs[j] = self.pairs[j], self.pairs[i]

    def introsort_loop(self, first: int, last: int, depth: int) -> None:
        while last - first > THRESHOLD:
            if depth == 0:
                self.heap_sort(first, last)
                return
            depth -= 1
            self.move_median_to_first(first, first + 1, first + (last - first) // 2, last - 1)
            cut = self.unguarded_partition(first + 1, last, first)
            self.introsort_loop(cut, last, depth)
            last = cut

    def move_median_to_first(self, result: int, a: int, b: int, c: int) -> None:
        ka, kb, kc = self.pairs[a][0], self.pairs[b][0], self.pairs[c][0]
        if ka > kb:
            median = b if kb > kc else (c if ka > kc else a)
        else:
            median = a if ka > kc else (c if kb > kc else b)
        self.swap(result, median)

    def unguarded_partition(self, first: int, last: int, pivot: int) -> int:
        pairs, key = self.pairs, self.pairs[pivot][0]
        while True:
            while pairs[first][0] > key:
                first += 1
            last -= 1
            while key > pairs[last][0]:
                last -= 1
            if not first < last:
                return first
            self.swap(first, last)
            first += 1

    def insertion_sort(self, first: int, last: int) -> None:
        pairs = self.pairs
        for i in range(first + 1, last):
            if pairs[i][0] > pairs[first][0]:
                pairs[first:i + 1] = [pairs[i], *pairs[first:i]]
            else:
                self.unguarded_linear_insert(i)

    def unguarded_linear_insert(self, last: int) -> None:
        pairs = self.pairs
        value = pairs[last]
        while value[0] > pairs[last - 1][0]:
            pairs[last] = pairs[last - 1]
            last -= 1
        pairs[last] = value

    def heap_sort(self, first: int, last: int) -> None:       # __partial_sort(first, last, last)
        length = last - first
        for parent in range((length - 2) // 2, -1, -1):        # __make_heap
            self.adjust_heap(first, parent, length, self.pairs[first + parent])
        while last - first > 1:                                # __sort_heap
            last -= 1
            value = self.pairs[last]
            self.pairs[last] = self.pairs[first]
            self.adjust_heap(first, 0, last - first, value)

    def adjust_heap(self, first: int, hole: int, length: int, value: tuple) -> None:
        pairs, top, child = self.pairs, hole, hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if pairs[first + child][0] > pairs[first + child - 1][0]:
                child -= 1
            pairs[first + hole] = pairs[first + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            pairs[first + hole] = pairs[first + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2                               # __push_heap
        while hole > top and pairs[first + parent][0] > value[0]:
            pairs[first + hole] = pairs[first + parent]
            hole = parent
            parent = (hole - 1) // 2
        pairs[first + hole] = value
