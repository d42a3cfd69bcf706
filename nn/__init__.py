"""minigrad's neural-network library: modules, layers, recurrent cells, losses, optimizers.

``import nn`` or ``from minigrad import nn`` (the same module object).
"""

from __future__ import annotations

from minigrad import RemovableHandle

from . import functional, init, optim, utils
from .activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from .attention import MultiheadAttention
from .cells import GRUCell, LSTMCell, RecurrentStateError, RNNCell
from .layers import (
    Dropout,
    Embedding,
    Flatten,
    Identity,
    Linear,
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
    Unflatten,
)
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineSimilarity,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    PairwiseDistance,
    SmoothL1Loss,
)
from .module import LoadResult, Module, Parameter, StateDictError
from .normalization import BatchNorm1d, LayerNorm, RMSNorm
from .recurrent import GRU, LSTM, RNN
from .serialization import CheckpointError, load, save

__all__ = [
    "BCEWithLogitsLoss", "CrossEntropyLoss", "GELU", "L1Loss", "LayerNorm", "LogSoftmax", "MSELoss", "NLLLoss",
    "Softmax",
    "CheckpointError", "Dropout", "Embedding", "Flatten", "Identity", "ParameterDict", "ParameterList",
    "RemovableHandle", "Unflatten", "Linear", "ModuleDict", "ModuleList", "ReLU", "Sequential",
    "Sigmoid", "Tanh",
    "GRU", "GRUCell", "LSTM", "LSTMCell", "LoadResult", "Module", "Parameter", "RNN", "RNNCell", "StateDictError",
    "RecurrentStateError",
    "functional", "init", "load", "optim", "save", "utils",
    "CELU", "ELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU", "LogSigmoid", "Mish",
    "PReLU", "ReLU6", "SELU", "SiLU", "Softmin", "Softplus", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
    "BCELoss", "CosineSimilarity", "HuberLoss", "KLDivLoss", "PairwiseDistance", "SmoothL1Loss", "RMSNorm",
    "BatchNorm1d",
    "MultiheadAttention",
]
