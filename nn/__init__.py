"""minigrad's neural-network library: modules, layers, recurrent cells, losses, optimizers.

``import nn`` or ``from minigrad import nn`` (the same module object).
"""

from __future__ import annotations

from . import functional, init, optim, utils
from .layers import (
    Dropout,
    Embedding,
    Identity,
    Linear,
    ModuleDict,
    ModuleList,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from .module import LoadResult, Module, Parameter, StateDictError
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .serialization import CheckpointError, load, save

__all__ = [
    "CheckpointError", "Dropout", "Embedding", "Identity", "Linear", "ModuleDict", "ModuleList", "ReLU", "Sequential",
    "Sigmoid", "Tanh",
    "GRU", "GRUCell", "LSTM", "LSTMCell", "LoadResult", "Module", "Parameter", "RNN", "RNNCell", "StateDictError",
    "functional", "init", "load", "optim", "save", "utils",
]
