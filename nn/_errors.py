"""Error classes ``nn`` raises where PyTorch's class differs from the one NumPy's habit suggests.

PyTorch programs catch errors by class (``except RuntimeError``, ``pytest.raises(RuntimeError)``) while code
written for minigrad's first contract catches ``ValueError`` / ``TypeError``: each class here is both, so either
``except`` clause catches it.
"""

from __future__ import annotations


class InputShapeError(ValueError, RuntimeError):
    """An input shape or argument value a layer or loss refuses (conv channels, a pooling window larger than the
    input, shapes that do not broadcast, ...): ValueError here, RuntimeError in PyTorch."""


class InputDtypeError(TypeError, RuntimeError):
    """An input of a dtype a function refuses (an index that is not an integer tensor, a float mask, ...):
    TypeError here, RuntimeError in PyTorch."""


class KernelDtypeError(InputDtypeError, NotImplementedError):
    """An integer or bool input to a function PyTorch has no kernel for (activations, pools, norms, losses):
    NotImplementedError in PyTorch ("... not implemented for 'Long'"; a RuntimeError for a few, which
    NotImplementedError is too), an InputDtypeError here too."""


class ComplexInputError(InputDtypeError, NotImplementedError):
    """A complex input to a function PyTorch has no complex kernel for (pools, most activations and losses):
    NotImplementedError in PyTorch ("... not implemented for 'ComplexFloat'"), an InputDtypeError here too."""


class ArgumentFormError(TypeError, RuntimeError):
    """An argument of the wrong form (an ``output_size`` tuple of the wrong length, ...): TypeError here,
    RuntimeError in PyTorch."""


class UnsupportedModeError(ValueError, NotImplementedError):
    """A mode string a function does not know (``F.pad(mode="bad")``): ValueError here, NotImplementedError in
    PyTorch."""


class ArgumentAssertionError(ValueError, AssertionError):
    """An argument PyTorch checks with ``assert`` (``embed_dim`` not divisible by ``num_heads``, a ``padding_idx``
    outside the table): ValueError here, AssertionError in PyTorch."""


class InputShapeAssertionError(InputShapeError, AssertionError):
    """Input shapes PyTorch checks with ``assert`` (multi-head attention's key and value of different shapes):
    an InputShapeError here, AssertionError in PyTorch."""


class InputRankError(InputShapeError, IndexError):
    """An input of too few dims for a dim a function reads (a 0-d input where PyTorch's ``size(0)`` raises): an
    InputShapeError here, IndexError in PyTorch."""
