"""``torch.backends`` as a package, for ``import torch.backends.cudnn as cudnn`` and
``from torch.backends import cudnn``: the very flag namespaces of ``mg.backends`` (``minigrad/settings.py``;
stored, no effect in minigrad), so ``cudnn.benchmark = True`` here is ``mg.backends.cudnn.benchmark``."""

from __future__ import annotations

import sys

from ..settings import backends as _flags

__all__ = sorted(vars(_flags))
globals().update(vars(_flags))
for _name in __all__:   # `import minigrad.backends.cudnn` finds the namespace itself
    sys.modules.setdefault(f"{__name__}.{_name}", getattr(_flags, _name))
