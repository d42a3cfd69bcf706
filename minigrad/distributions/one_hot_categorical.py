"""``torch.distributions.one_hot_categorical``: the one-hot categorical distributions
(``minigrad/distributions/categorical.py``)."""

from __future__ import annotations

from .categorical import OneHotCategorical, OneHotCategoricalStraightThrough

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]
