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
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
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
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    CircularPad1d,
    ConstantPad1d,
    Conv1d,
    Conv2d,
    MaxPool1d,
    MaxPool2d,
    ReflectionPad1d,
    ReplicationPad1d,
    ZeroPad1d,
)
from .layers import Dropout, Embedding, Flatten, Identity, Linear, Unflatten
from .layers_extra import AlphaDropout, Bilinear, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout, LazyLinear
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
from .loss_more import (
    CosineEmbeddingLoss,
    CTCLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    PoissonNLLLoss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from .module import LoadResult, Module, Parameter, StateDictError
from .normalization import BatchNorm1d, LayerNorm, RMSNorm
from .normalization_more import GroupNorm, InstanceNorm1d
from .recurrent import GRU, LSTM, RNN
from .serialization import CheckpointError, load, save
from .transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

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
    "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d",
    "CircularPad1d", "ConstantPad1d", "Conv1d",
    "Conv2d", "MaxPool1d", "MaxPool2d", "ReflectionPad1d", "ReplicationPad1d", "ZeroPad1d",
    "CosineEmbeddingLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "MarginRankingLoss", "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss", "SoftMarginLoss", "TripletMarginLoss",
    "AlphaDropout", "Bilinear", "Dropout1d", "LazyLinear", "GroupNorm", "InstanceNorm1d",
    "Dropout2d", "Dropout3d", "FeatureAlphaDropout", "RReLU", "Softmax2d", "TripletMarginWithDistanceLoss",
    "CTCLoss",
]
