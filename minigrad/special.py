"""``mg.special``: PyTorch's ``torch.special``, the special functions under their scipy-style names.

Each is elementwise (a tensor of any shape gives that shape; two inputs broadcast) and differentiable
where PyTorch's is, unless said otherwise; integer and bool tensors become float32 as in PyTorch.
The functions minigrad already had are reused (``expit`` is ``mg.sigmoid``, ``erf``, ``erfc``,
``logit``, ``xlogy``, ``sinc``, ``log1p``, ``expm1``, ``exp2``, ``round``); the gamma family is in
``ops/gamma.py``, the error-function inverses, normal CDFs and Bessel functions in
``ops/special_functions.py``, with their accuracy.

The Bessel functions of the first and second kind (``bessel_j0`` …), ``modified_bessel_i0/i1/k0/k1``,
``scaled_modified_bessel_k0/k1``, ``airy_ai`` and ``spherical_bessel_j0`` are in ``ops/special_bessel.py``,
the orthogonal polynomials (``chebyshev_polynomial_t`` …) in ``ops/special_polynomials.py``; as in PyTorch
they have no derivative (backward through one raises NotImplementedError).
"""

from __future__ import annotations

from typing import Any

from .autograd.names import respelled
from .ops._util import NOT_GIVEN, keep_flag, required_dim
from .ops.elementwise import sigmoid as expit
from .ops.gamma import digamma, gammainc, gammaincc, mvlgamma, polygamma, zeta
from .ops.gamma import lgamma as gammaln
from .ops.math import erf, exp2, expm1, log1p
from .ops.math import round as _round
from .ops.reduce import log_softmax as _log_softmax
from .ops.reduce import logsumexp as _logsumexp
from .ops.reduce import softmax as _softmax
from .ops.shape import astype
from .ops.special import erfc, logit, sinc, xlogy
from .ops.special_bessel import (
    airy_ai,
    bessel_j0,
    bessel_j1,
    bessel_y0,
    bessel_y1,
    modified_bessel_i0,
    modified_bessel_i1,
    modified_bessel_k0,
    modified_bessel_k1,
    scaled_modified_bessel_k0,
    scaled_modified_bessel_k1,
    spherical_bessel_j0,
)
from .ops.special_functions import entr, erfcx, erfinv, i0, i0e, i1, i1e, log_ndtr, ndtr, ndtri, xlog1py
from .ops.special_polynomials import (
    chebyshev_polynomial_t,
    chebyshev_polynomial_u,
    chebyshev_polynomial_v,
    chebyshev_polynomial_w,
    hermite_polynomial_h,
    hermite_polynomial_he,
    laguerre_polynomial_l,
    legendre_polynomial_p,
    shifted_chebyshev_polynomial_t,
    shifted_chebyshev_polynomial_u,
    shifted_chebyshev_polynomial_v,
    shifted_chebyshev_polynomial_w,
)
from .tensor import Tensor

__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc",
           "gammaln", "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp",
           "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta",
           "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1",
           "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
           "spherical_bessel_j0", "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
           "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
           "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"]

psi = digamma

def multigammaln(input: Tensor, p: int) -> Tensor:  # noqa: A002 - PyTorch's name
    """The multivariate log-gamma function of dimension ``p`` (torch.special.multigammaln, mg.mvlgamma).

    input: any shape, every element > (p - 1)/2 → the same shape.
    """
    return mvlgamma(input, p)


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A002, A001 - PyTorch's name
    """input rounded half to even, to ``decimals`` places (torch.special.round); the gradient is 0. Any shape."""
    # PyTorch's special.round always passes decimals: round's overload 1
    return respelled(_round(input, decimals=decimals), input, "round", "RoundBackward1")


def _cast(x: Tensor, dtype: Any) -> Tensor:
    return x if dtype is None else astype(x, dtype)


def softmax(input: Tensor, dim: int = NOT_GIVEN, *, dtype: Any = None, axis: Any = NOT_GIVEN) -> Tensor:  # noqa: A002
    """exp(x) / sum(exp(x)) along ``dim`` (required, as in torch.special.softmax; ``axis=`` is PyTorch's alias),
    x = ``input``; ``dtype`` casts x first.

    input: any shape → the same shape.
    """
    return _softmax(_cast(input, dtype), required_dim("special.softmax", dim, axis))


def log_softmax(input: Tensor, dim: int = NOT_GIVEN, *, dtype: Any = None,  # noqa: A002 - PyTorch's name
                axis: Any = NOT_GIVEN) -> Tensor:
    """x - logsumexp(x) along ``dim`` (required; ``axis=`` is PyTorch's alias), x = ``input``; ``dtype`` casts x
    first. input: any shape → the same shape."""
    return _log_softmax(_cast(input, dtype), required_dim("special.log_softmax", dim, axis))


def logsumexp(input: Tensor, dim: Any = NOT_GIVEN, keepdim: bool = False, *, out: Tensor | None = None,  # noqa: A002
              axis: Any = NOT_GIVEN, keepdims: bool | None = None) -> Tensor:
    """log(sum(exp(x))) over ``dim`` (an int or a tuple; required), x = ``input``, stable for large inputs.
    ``axis=`` and ``keepdims=`` are PyTorch's aliases of ``dim=`` and ``keepdim=``.

    input: any shape → that shape without ``dim`` (kept as size 1 with ``keepdim``); ``out=`` as ``mg.logsumexp``'s.
    """
    name = "special.logsumexp"
    return _logsumexp(input, required_dim(name, dim, axis), keep_flag(name, keepdim, keepdims), out=out)


from .outputs import install as _install_out  # noqa: E402 - last: it wraps the functions above

_install_out(globals(), "special")   # PyTorch's out= (minigrad/outputs.py)
