"""Optimizers and learning-rate schedules — the update rules of ``torch.optim``.

``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``, ``Adamax``, ``NAdam``, ``RAdam``,
``Adadelta``, ``Rprop``, ``ASGD``, ``Adafactor``, ``Muon`` and ``LBFGS`` change the parameter arrays in place,
outside the graph (``no_grad``), with arrays on the parameters' own device: the state
(momentum buffers, moment estimates) lives beside each parameter and follows it when a
module is moved with ``to()``.
Parameters are given as an iterable of Tensors (or of ``(name, Tensor)`` pairs,
as ``named_parameters()`` gives) or as parameter groups (a list of dicts, each
with ``"params"`` and any hyper-parameter to override for that group). A step
is all-or-nothing (see :mod:`nn.optim.optimizer`).

``state_dict()`` has PyTorch's layout: ``{"state": {index: {name: Tensor |
number}}, "param_groups": [{..., "params": [index, …]}]}``, where indices count
the parameters across groups in order; ``nn.save`` writes it as ``.npz``.

``nn.optim.lr_scheduler`` holds the schedules (``from nn.optim import lr_scheduler``);
``nn.optim.swa_utils`` weight averaging (SWA, EMA) as ``torch.optim.swa_utils``. PyTorch's
``SparseAdam`` is absent: it takes sparse gradients only, and minigrad has none.
"""

from __future__ import annotations

from . import lr_scheduler, swa_utils
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .muon import Muon
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD

__all__ = ["ASGD", "LBFGS", "SGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Muon", "NAdam",
           "Optimizer", "RAdam", "RMSprop", "Rprop", "lr_scheduler", "swa_utils"]
