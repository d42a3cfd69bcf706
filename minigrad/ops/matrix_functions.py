"""Functions of a matrix: ``matrix_exp`` (``torch.linalg.matrix_exp``).

``exp(A)`` by scaling and squaring with the degree-13 Padé approximant (Higham 2005, "The scaling and
squaring method for the matrix exponential revisited"): each matrix of the batch is scaled by
``2⁻ˢ`` until its 1-norm is at most θ₁₃ ≈ 5.37, ``r = (V - U)⁻¹ (V + U)`` is formed from even and odd
powers, then squared ``s`` times. Only matrix products and one ``xp.linalg.solve``: the same code
runs on NumPy and CuPy (neither has a matrix exponential).

The gradient uses the block-matrix identity for analytic functions (Mathias 1996), as PyTorch:
``exp([[Aᵀ, G], [0, Aᵀ]])`` holds ``gA`` in its top-right block.
"""

from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd import Function
from .solvers import transpose

# b_0 … b_13 of the [13/13] Padé approximant of exp, and the largest 1-norm it handles unscaled
_PADE_13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
            129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0,
            960960.0, 16380.0, 182.0, 1.0)
_THETA_13 = 5.371920351148152


def expm(xp: Any, a: Any) -> Any:
    """``exp(A)`` of each matrix of ``a`` (…, n, n), in ``a``'s dtype."""
    if a.size == 0:
        return a.copy()
    b = _PADE_13
    norm = xp.abs(a).sum(axis=-2).max(axis=-1)   # the 1-norm: the largest column sum
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        squarings = xp.ceil(xp.log2(norm / _THETA_13))
    squarings = xp.where(xp.isfinite(squarings) & (squarings > 0), squarings, 0).astype(xp.int64)
    scaled = a / (2.0 ** squarings).astype(a.dtype)[..., None, None]
    eye = xp.eye(a.shape[-1], dtype=a.dtype)
    a2 = scaled @ scaled
    a4 = a2 @ a2
    a6 = a4 @ a2
    odd = scaled @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye)
    even = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    with backend.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        result = xp.linalg.solve(even - odd, even + odd)
        for step in range(int(squarings.max())):   # each matrix squared as often as it was halved
            result = xp.where((squarings > step)[..., None, None], result @ result, result)
    return result


class MatrixExp(Function):
    """``exp(A)`` for A (…, n, n); backward: the top-right block of ``exp([[Aᵀ, G], [0, Aᵀ]])``."""

    name = "linalg.matrix_exp"
    complex_grad = "holomorphic"   # exp([[Aᴴ, G], [0, Aᴴ]]), PyTorch's; see autograd.engine._complex_gate

    def forward(self, a: Any) -> Any:
        self.saved = (a,)
        return expm(self.xp, a)

    def backward(self, g: Any) -> Any:
        (a,) = self.saved
        xp = self.xp
        n = a.shape[-1]
        a_t = transpose(xp, a)
        block = xp.zeros(g.shape[:-2] + (2 * n, 2 * n), dtype=g.dtype)
        block[..., :n, :n] = a_t
        block[..., n:, n:] = a_t
        block[..., :n, n:] = g
        return expm(xp, block)[..., :n, n:]
