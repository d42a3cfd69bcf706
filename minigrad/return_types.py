"""The named tuples that ops return, as ``torch.return_types``: one class per op, named as PyTorch's
(``mg.topk(x, 2)`` is a ``minigrad.return_types.topk``), printed as PyTorch prints them::

    minigrad.return_types.topk(
    values=tensor([3., 2.]),
    indices=tensor([0, 2]))

Each is a subclass of the shared tuple of its fields (``topk``, ``max``, ``sort`` … of
:class:`ValuesIndices`), so ``isinstance(r, mg.ValuesIndices)``, ``r.values``, ``r[0]`` and unpacking
all work. This module imports nothing from the engine: the ops import their result types from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .tensor import Tensor


# --- the shared field layouts (public as mg.ValuesIndices, mg.MinMax, mg.linalg.SlogdetResult …) ------------

class ValuesIndices(NamedTuple):
    """``(values, indices)`` of ``max``/``min`` along a dim, ``topk``, ``sort``, ``kthvalue``, ``mode``,
    ``median``/``nanmedian`` along a dim and ``cummax``/``cummin``."""

    values: Tensor
    indices: Tensor


class MinMax(NamedTuple):
    """``(min, max)`` of ``aminmax``."""

    min: Tensor
    max: Tensor


class FrexpResult(NamedTuple):
    """``(mantissa, exponent)`` of ``frexp``."""

    mantissa: Tensor
    exponent: Tensor


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)`` of ``slogdet``."""

    sign: Tensor
    logabsdet: Tensor


class EighResult(NamedTuple):
    """``(eigenvalues, eigenvectors)`` of ``linalg.eigh``."""

    eigenvalues: Tensor
    eigenvectors: Tensor


class EigResult(NamedTuple):
    """``(eigenvalues, eigenvectors)`` of ``linalg.eig``."""

    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    """``(U, S, Vh)`` of ``linalg.svd``."""

    U: Tensor
    S: Tensor
    Vh: Tensor


class QRResult(NamedTuple):
    """``(Q, R)`` of ``linalg.qr``."""

    Q: Tensor
    R: Tensor


class InvExResult(NamedTuple):
    """``(inverse, info)`` of ``linalg.inv_ex``."""

    inverse: Tensor
    info: Tensor


class CholeskyExResult(NamedTuple):
    """``(L, info)`` of ``linalg.cholesky_ex``."""

    L: Tensor
    info: Tensor


class SolveExResult(NamedTuple):
    """``(result, info)`` of ``linalg.solve_ex``."""

    result: Tensor
    info: Tensor


class SVDLegacyResult(NamedTuple):
    """``(U, S, V)`` of the deprecated ``torch.svd`` (V, not Vh)."""

    U: Tensor
    S: Tensor
    V: Tensor


class TriangularSolveResult(NamedTuple):
    """``(solution, cloned_coefficient)`` of the deprecated ``torch.triangular_solve``."""

    solution: Tensor
    cloned_coefficient: Tensor


class LUFactorResult(NamedTuple):
    """``(LU, pivots)`` of ``linalg.lu_factor``."""

    LU: Tensor
    pivots: Tensor


class LUFactorExResult(NamedTuple):
    """``(LU, pivots, info)`` of ``linalg.lu_factor_ex`` and of ``torch.lu(get_infos=True)``."""

    LU: Tensor
    pivots: Tensor
    info: Tensor


class PLUResult(NamedTuple):
    """``(P, L, U)`` of ``linalg.lu`` and ``lu_unpack``."""

    P: Tensor
    L: Tensor
    U: Tensor


class GeqrfResult(NamedTuple):
    """``(a, tau)`` of ``geqrf``: the QR factorization in LAPACK's packed layout."""

    a: Tensor
    tau: Tensor


class LDLFactorResult(NamedTuple):
    """``(LD, pivots)`` of ``linalg.ldl_factor``."""

    LD: Tensor
    pivots: Tensor


class LDLFactorExResult(NamedTuple):
    """``(LD, pivots, info)`` of ``linalg.ldl_factor_ex``."""

    LD: Tensor
    pivots: Tensor
    info: Tensor


class HistogramResult(NamedTuple):
    """``(hist, bin_edges)`` of ``histogram`` (bin_edges a tensor) and ``histogramdd`` (a tuple of tensors)."""

    hist: Tensor
    bin_edges: Any


class LstsqResult(NamedTuple):
    """``(solution, residuals, rank, singular_values)`` of ``linalg.lstsq``."""

    solution: Tensor
    residuals: Tensor
    rank: Tensor
    singular_values: Tensor


# --- one class per op, PyTorch's names ------------------------------------------------------------------------

def _repr(self: tuple) -> str:
    fields = ",\n".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
    return f"{type(self).__module__}.{type(self).__name__}(\n{fields})"


def _structseq(name: str, layout: type) -> type:
    """A subclass of ``layout`` named ``name`` in this module (so it pickles by name) with PyTorch's repr."""
    return type(name, (layout,), {"__slots__": (), "__repr__": _repr, "__module__": __name__,
                                  "__qualname__": name, "__doc__": f"The result of ``{name}``: {layout.__doc__}"})


topk = _structseq("topk", ValuesIndices)
sort = _structseq("sort", ValuesIndices)
kthvalue = _structseq("kthvalue", ValuesIndices)
mode = _structseq("mode", ValuesIndices)
median = _structseq("median", ValuesIndices)
nanmedian = _structseq("nanmedian", ValuesIndices)
cummax = _structseq("cummax", ValuesIndices)
cummin = _structseq("cummin", ValuesIndices)
aminmax = _structseq("aminmax", MinMax)
frexp = _structseq("frexp", FrexpResult)
slogdet = _structseq("slogdet", SlogdetResult)
linalg_slogdet = _structseq("linalg_slogdet", SlogdetResult)
linalg_eigh = _structseq("linalg_eigh", EighResult)
linalg_eig = _structseq("linalg_eig", EigResult)
linalg_svd = _structseq("linalg_svd", SVDResult)
linalg_qr = _structseq("linalg_qr", QRResult)
linalg_inv_ex = _structseq("linalg_inv_ex", InvExResult)
linalg_cholesky_ex = _structseq("linalg_cholesky_ex", CholeskyExResult)
linalg_solve_ex = _structseq("linalg_solve_ex", SolveExResult)
linalg_lstsq = _structseq("linalg_lstsq", LstsqResult)
linalg_lu_factor = _structseq("linalg_lu_factor", LUFactorResult)
linalg_lu_factor_ex = _structseq("linalg_lu_factor_ex", LUFactorExResult)
linalg_lu = _structseq("linalg_lu", PLUResult)
lu_unpack = _structseq("lu_unpack", PLUResult)
_lu_with_info = _structseq("_lu_with_info", LUFactorExResult)
histogram = _structseq("histogram", HistogramResult)
histogramdd = _structseq("histogramdd", HistogramResult)
svd = _structseq("svd", SVDLegacyResult)
qr = _structseq("qr", QRResult)
triangular_solve = _structseq("triangular_solve", TriangularSolveResult)
geqrf = _structseq("geqrf", GeqrfResult)
linalg_ldl_factor = _structseq("linalg_ldl_factor", LDLFactorResult)
linalg_ldl_factor_ex = _structseq("linalg_ldl_factor_ex", LDLFactorExResult)
max = _structseq("max", ValuesIndices)  # noqa: A001 - PyTorch's names; last, they shadow the builtins here
min = _structseq("min", ValuesIndices)  # noqa: A001

__all__ = ["ValuesIndices", "MinMax", "FrexpResult", "SlogdetResult", "EigResult", "EighResult", "SVDResult",
           "QRResult",
           "InvExResult", "CholeskyExResult", "SolveExResult", "LstsqResult", "SVDLegacyResult",
           "TriangularSolveResult", "GeqrfResult", "LDLFactorResult", "LDLFactorExResult",
           "LUFactorResult", "LUFactorExResult", "PLUResult",
           "HistogramResult", "topk", "sort", "kthvalue", "mode", "median", "nanmedian", "cummax", "cummin",
           "aminmax", "frexp", "slogdet", "linalg_slogdet", "linalg_eigh", "linalg_eig", "linalg_svd", "linalg_qr",
           "linalg_inv_ex",
           "linalg_cholesky_ex", "linalg_solve_ex", "linalg_lstsq", "svd", "qr", "triangular_solve", "geqrf", "max",
           "min", "linalg_lu_factor", "linalg_lu_factor_ex", "linalg_lu", "lu_unpack", "_lu_with_info", "histogram",
           "histogramdd", "linalg_ldl_factor", "linalg_ldl_factor_ex"]


def __dir__() -> Any:
    return __all__
