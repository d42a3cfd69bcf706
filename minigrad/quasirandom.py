"""``mg.quasirandom``: PyTorch's ``torch.quasirandom.SobolEngine``, (scrambled) Sobol' sequences.

    engine = mg.quasirandom.SobolEngine(dimension=5, scramble=True, seed=0)
    points = engine.draw(8)          # (8, 5) float32 points in [0, 1), the next 8 of the sequence
    block = engine.draw_base2(3)     # the next 2**3 points

A Sobol' point is a 30-bit integer per dimension divided by 2**30. Point ``i`` of dimension ``j`` is the
XOR of the direction numbers ``V[j, l]`` for each bit ``l`` set in the Gray code of ``i`` (XORed with a
random digital shift when scrambled), so the engine draws ``n`` points at once with one cumulative XOR.
The points are made with NumPy on the host and returned as CPU tensors, as PyTorch's are.

Unscrambled points equal PyTorch's bit for bit: the direction numbers are those PyTorch uses, S. Joe and
F. Y. Kuo's ``new-joe-kuo-6.21201`` table (search criterion D(6), all 21201 dimensions;
https://web.maths.unsw.edu.au/~fkuo/sobol/, "Constructing Sobol sequences with better two-dimensional
projections", SIAM J. Sci. Comput. 30, 2008), stored bit-packed in ``_sobol_direction_numbers.py``
(made from the published text file by :func:`_pack_joe_kuo`).

Scrambling is PyTorch's (Owen's random linear matrix scramble of the direction numbers and a random
digital shift), with its random bits drawn from minigrad's generator (``seed`` seeds a generator of its
own): scrambled points are distributed as PyTorch's but are not the same numbers, since the two
libraries' random streams differ. Given the same random bits, they are the same numbers.
"""

from __future__ import annotations

import base64
import functools
import operator
from typing import Any

import numpy

from .arguments import as_dtype
from .dtypes import float32, float64, get_default_dtype
from .generators import Generator
from .tensor import Tensor

__all__ = ["SobolEngine"]

MAXBIT = 30      # bits of each point: the integers run over [0, 2**30)
MAXDIM = 21201   # dimensions in Joe & Kuo's table (1 + every primitive polynomial of degree <= 18)
MAXDEG = 18      # the largest degree of a primitive polynomial in the table


def _primitive_polynomial_counts() -> list[int]:
    """How many primitive polynomials over GF(2) have degree 1, 2, ..., 18: phi(2**s - 1) / s.

    The table holds them all, by degree, so the degree of each dimension's polynomial is not stored."""
    counts = []
    for s in range(1, MAXDEG + 1):
        n = totient = 2 ** s - 1
        factor = 2
        while factor * factor <= n:
            if n % factor == 0:
                totient -= totient // factor
                while n % factor == 0:
                    n //= factor
            factor += 1
        if n > 1:
            totient -= totient // n
        counts.append(totient // s)
    return counts


def _blocks(dimension: int) -> list[tuple[int, int]]:
    """(degree, count) of each run of dimensions 2 .. ``dimension`` whose polynomials have one degree."""
    blocks, left = [], dimension - 1
    for s, count in enumerate(_primitive_polynomial_counts(), start=1):
        if left <= 0:
            break
        blocks.append((s, min(count, left)))
        left -= count
    return blocks


def _field_widths(s: int) -> list[int]:
    """The packed fields of a dimension whose polynomial has degree s: the polynomial's inner coefficients
    ``a`` (s - 1 bits), then m_1 .. m_s without their lowest bit, which is always 1 (m_i < 2**i: i - 1 bits)."""
    return [s - 1, *range(s)]


def _pack_joe_kuo(text: str) -> bytes:
    """Joe & Kuo's table in their text format (a header line, then ``d s a m_1 .. m_s`` per dimension
    from d = 2) as the bits :func:`_table` reads: how ``_sobol_direction_numbers.py`` was made."""
    rows = [[int(word) for word in line.split()] for line in text.strip().splitlines()[1:]]
    degrees = [s for s, count in _blocks(len(rows) + 1) for _ in range(count)]
    bits = []
    for row, s in zip(rows, degrees):
        d, degree, a, *m = row
        if degree != s or len(m) != s or not 0 <= a < 2 ** (s - 1) or \
                any(mi % 2 == 0 or not 0 < mi < 2 ** i for i, mi in enumerate(m, start=1)):
            raise ValueError(f"_pack_joe_kuo: the row of dimension {d} is not a degree-{s} row of the table: {row}")
        for value, width in zip([a, *(mi >> 1 for mi in m)], _field_widths(s)):
            bits += [(value >> (width - 1 - b)) & 1 for b in range(width)]   # most significant bit first
    return numpy.packbits(numpy.array(bits, numpy.uint8)).tobytes()


@functools.lru_cache(maxsize=1)
def _table() -> tuple[numpy.ndarray, numpy.ndarray]:
    """Every dimension's primitive polynomial (MAXDIM,) and initial direction numbers m_1 .. m_s
    (MAXDIM, MAXDEG), zero-padded; dimension 1's are (1, []) as in the table."""
    from ._sobol_direction_numbers import PACKED

    bits = numpy.unpackbits(numpy.frombuffer(base64.b64decode(PACKED), numpy.uint8))
    poly, m = numpy.ones(MAXDIM, numpy.int64), numpy.zeros((MAXDIM, MAXDEG), numpy.int64)
    start, row = 0, 1
    for s, count in _blocks(MAXDIM):   # one (count, bits per dimension) matrix of bits per degree
        widths = _field_widths(s)
        block = bits[start:start + count * sum(widths)].reshape(count, sum(widths)).astype(numpy.int64)
        edges = numpy.cumsum([0, *widths])
        fields = [block[:, lo:hi] @ (1 << numpy.arange(hi - lo - 1, -1, -1)) for lo, hi in zip(edges, edges[1:])]
        poly[row:row + count] = (1 << s) | (fields[0] << 1) | 1
        m[row:row + count, :s] = (numpy.stack(fields[1:], axis=1) << 1) | 1
        start, row = start + block.size, row + count
    return poly, m


def _direction_numbers(dimension: int) -> numpy.ndarray:
    """The first ``dimension`` rows of the direction numbers V (dimension, MAXBIT), int64, bit-aligned:
    V[j, l] is the integer XORed into dimension j when bit l of a point's Gray code flips.

    Bratley & Fox's recurrence (Algorithm 659) from each polynomial x**s + a_1 x**(s-1) + ... + 1:
    m_k = 2 a_1 m_(k-1) ^ 4 a_2 m_(k-2) ^ ... ^ 2**s m_(k-s) ^ m_(k-s), then V = m * 2**(MAXBIT-1-l)."""
    poly, m = _table()
    poly, degree = poly[:dimension], numpy.array([int(p).bit_length() - 1 for p in poly[:dimension]])
    v = numpy.zeros((dimension, MAXBIT), numpy.int64)
    v[:, :MAXDEG] = m[:dimension]
    v[0] = 1   # the first dimension: van der Corput's sequence
    rows = numpy.arange(dimension)
    for k in range(1, MAXBIT):
        grown = (k >= degree) & (degree > 0)   # the first `degree` numbers are the table's
        new = v[rows, numpy.maximum(k - degree, 0)]
        for i in range(1, min(k, MAXDEG) + 1):   # the term of a_i (the constant term when i == degree)
            coefficient = (poly >> numpy.maximum(degree - i, 0)) & 1
            new ^= numpy.where((i <= degree) & (coefficient == 1), v[:, k - i] << i, 0)
        v[grown, k] = new[grown]
    return v << (MAXBIT - 1 - numpy.arange(MAXBIT))


def _scrambled(directions: numpy.ndarray, ltm: numpy.ndarray) -> numpy.ndarray:
    """Owen's linear matrix scramble: each direction number's bits (most significant first) times
    dimension j's lower-triangular 0/1 matrix ``ltm[j]`` (MAXBIT, MAXBIT), unit diagonal forced, mod 2."""
    ltm = numpy.tril(ltm).astype(numpy.float32)   # sums <= 30: exact in float32, and BLAS is fast
    diagonal = numpy.arange(MAXBIT)
    ltm[:, diagonal, diagonal] = 1
    place = MAXBIT - 1 - numpy.arange(MAXBIT)
    bits = ((directions[..., None] >> place) & 1).astype(numpy.float32)       # (D, l, bit)
    scrambled = (bits @ ltm.transpose(0, 2, 1)).astype(numpy.int64) & 1      # (D, l, bit)
    return (scrambled << place).sum(-1)


class SobolEngine:
    r"""An engine for (scrambled) Sobol' sequences of ``dimension`` (1 .. 21201) dimensions, as
    ``torch.quasirandom.SobolEngine``.

    ``draw(n)`` gives the next ``n`` points, shape (n, dimension), in [0, 1); ``draw_base2(m)`` the next
    ``2**m``; ``fast_forward(n)`` skips ``n``; ``reset()`` starts again. ``scramble=True`` applies a random
    linear matrix scramble and digital shift drawn from ``seed`` (a generator of its own) or, when
    ``seed`` is None, from minigrad's default generator.
    """

    MAXBIT = MAXBIT
    MAXDIM = MAXDIM

    def __init__(self, dimension: int, scramble: bool = False, seed: int | None = None) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, (int, numpy.integer)):
            raise TypeError(f"SobolEngine: dimension must be an int, got {type(dimension).__name__}")
        if dimension > MAXDIM or dimension < 1:
            raise ValueError(f"Supported range of dimensionality for SobolEngine is [1, {MAXDIM}]")
        self.seed = seed
        self.scramble = scramble
        self.dimension = int(dimension)
        self._directions = _direction_numbers(self.dimension)
        if self.scramble:
            shift_bits, ltm = self._random_bits()
            self._shift = shift_bits.astype(numpy.int64) @ (1 << numpy.arange(MAXBIT, dtype=numpy.int64))
            self._directions = _scrambled(self._directions, ltm)
        else:
            self._shift = numpy.zeros(self.dimension, numpy.int64)
        self._quasi = self._shift.copy()
        # PyTorch divides in the default dtype of the moment, and later draws cast that first point
        self._first_point = (self._shift / 2 ** MAXBIT).astype(get_default_dtype()).reshape(1, -1)
        self.num_generated = 0

    def _random_bits(self) -> tuple[numpy.ndarray, numpy.ndarray]:
        """The digital shift's bits (D, MAXBIT) and the scramble matrices (D, MAXBIT, MAXBIT), 0/1 ints,
        drawn in PyTorch's order."""
        from .constructors import randint

        generator = None
        if self.seed is not None:
            generator = Generator()
            generator.manual_seed(self.seed)
        shift_bits = randint(2, (self.dimension, MAXBIT), generator=generator, device="cpu")
        ltm = randint(2, (self.dimension, MAXBIT, MAXBIT), generator=generator, device="cpu")
        return shift_bits.numpy(), ltm.numpy()

    @property
    def sobolstate(self) -> Tensor:
        """The (scrambled) direction numbers, (dimension, MAXBIT) int64 (a copy)."""
        return Tensor._new(self._directions.copy(), device="cpu")

    @property
    def shift(self) -> Tensor:
        """The digital shift, (dimension,) int64 (zeros when not scrambled; a copy)."""
        return Tensor._new(self._shift.copy(), device="cpu")

    @property
    def quasi(self) -> Tensor:
        """The integers of the last point drawn, (dimension,) int64 (a copy)."""
        return Tensor._new(self._quasi.copy(), device="cpu")

    def _points(self, n: int) -> numpy.ndarray:
        """The integers of the next ``n`` points after the state ``self._quasi`` (n, dimension), the state
        moved to the last: point i+1 = point i ^ V[:, rightmost zero bit of i]."""
        start = max(self.num_generated - 1, 0)
        if start + n >= 2 ** MAXBIT:
            raise ValueError(f"SobolEngine: a Sobol' sequence of {MAXBIT}-bit points has 2**{MAXBIT} points; "
                             f"{self.num_generated} drawn and {n} more asked for")
        index = numpy.arange(start, start + n, dtype=numpy.int64) + 1
        flipped = numpy.frexp((index & -index).astype(numpy.float64))[1] - 1   # rightmost zero bit of index - 1
        points = numpy.bitwise_xor.accumulate(self._directions[:, flipped].T, axis=0) ^ self._quasi
        if n:
            self._quasi = points[-1].copy()
        return points

    def draw(self, n: int = 1, out: Tensor | None = None, dtype: Any = None) -> Tensor:
        """The next ``n`` points of the sequence, (n, dimension), in ``dtype`` (the default dtype: float32)."""
        if isinstance(n, bool) or not isinstance(n, (int, numpy.integer)):
            raise TypeError(f"SobolEngine.draw: n must be an int, not {type(n).__name__}")
        dtype = get_default_dtype() if dtype is None else as_dtype(dtype, "SobolEngine.draw")
        n = int(n)
        if self.num_generated == 0 and n == 1:
            result = self._first_point.astype(dtype)   # as PyTorch, any dtype
        else:
            fresh = self.num_generated == 0
            if n - fresh < 0:
                raise RuntimeError(f"SobolEngine.draw: n must be at least {int(fresh)}"
                                   f"{' on an engine that has drawn nothing (as in PyTorch)' if fresh else ''}, "
                                   f"got {n}")
            if dtype not in (float32, float64):
                raise NotImplementedError(f"SobolEngine.draw: dtype {dtype} is not supported, only float32 and "
                                          f"float64 (as in PyTorch)")
            # PyTorch casts the integers to dtype and then scales them (float32 rounds above 2**24)
            result = self._points(n - fresh).astype(dtype) * dtype.type(1.0 / 2 ** MAXBIT)
            if fresh:
                result = numpy.concatenate([self._first_point.astype(dtype), result])
        self.num_generated += n
        points = Tensor._new(result, device="cpu")
        if out is not None:
            return out.resize_as_(points).copy_(points)
        return points

    def draw_base2(self, m: int, out: Tensor | None = None, dtype: Any = None) -> Tensor:
        """The next ``2**m`` points, (2**m, dimension); the count drawn so far and after must be powers of 2,
        which keeps the balance properties of Sobol' points."""
        m = operator.index(m)
        if m < 0:
            raise TypeError(f"SobolEngine.draw_base2: m must be a non-negative int, got {m}")
        n = 2 ** m
        total_n = self.num_generated + n
        if total_n & (total_n - 1) != 0:
            raise ValueError("The balance properties of Sobol' points require n to be a power of 2. "
                             f"{self.num_generated} points have been previously generated, then: "
                             f"n={self.num_generated}+2**{m}={total_n}. If you still want to do this, please use "
                             "'SobolEngine.draw()' instead.")
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self) -> SobolEngine:
        """Back to the first point (the same scramble)."""
        self._quasi = self._shift.copy()
        self.num_generated = 0
        return self

    def fast_forward(self, n: int) -> SobolEngine:
        """Skip the next ``n`` points, as drawing them would (in one step: the state is a Gray-code XOR)."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"SobolEngine.fast_forward: n must be >= 0, got {n}")
        last = self.num_generated + n - 1   # the index of the last point skipped
        if n and last >= 2 ** MAXBIT:
            raise ValueError(f"SobolEngine.fast_forward: a Sobol' sequence of {MAXBIT}-bit points has "
                             f"2**{MAXBIT} points; {self.num_generated} drawn and {n} more asked for")
        if n:
            gray = last ^ (last >> 1)
            flips = [bit for bit in range(MAXBIT) if gray >> bit & 1]
            self._quasi = numpy.bitwise_xor.reduce(self._directions[:, flips], axis=1, initial=0) ^ self._shift
        self.num_generated += n
        return self

    def __repr__(self) -> str:
        fmt_string = [f"dimension={self.dimension}"]
        if self.scramble:
            fmt_string += ["scramble=True"]
        if self.seed is not None:
            fmt_string += [f"seed={self.seed}"]
        return self.__class__.__name__ + "(" + ", ".join(fmt_string) + ")"
