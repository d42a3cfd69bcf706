"""``torch.nn.utils.convert_parameters``: parameters to one flat vector and back (the functions of ``nn.utils``)."""

from __future__ import annotations

from . import parameters_to_vector, vector_to_parameters

__all__ = ["parameters_to_vector", "vector_to_parameters"]
