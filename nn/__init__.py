"""minigrad's neural-network library: modules, layers, recurrent cells, losses, optimizers.

``import nn`` or ``from minigrad import nn`` (the same module object).
"""

from __future__ import annotations

from minigrad import RemovableHandle

from . import common_types, functional, grad, init, optim, parallel, parameter, utils
from ._arguments import factory_kwargs
from ._buffer import Buffer
from ._lazy_more import (
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
    LazyConv1d,
    LazyConv2d,
    LazyConv3d,
    LazyConvTranspose1d,
    LazyConvTranspose2d,
    LazyConvTranspose3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LazyInstanceNorm3d,
)
from ._linear_cross_entropy import LinearCrossEntropyOptions
from ._recurrent_checks import RecurrentInputError
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
from .adaptive import AdaptiveLogSoftmaxWithLoss
from .attention import MultiheadAttention
from .cells import GRUCell, LSTMCell, RecurrentStateError, RNNCell, RNNCellBase
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
from .conv_transpose import Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d, Fold, Unfold
from .deprecated import Container, NLLLoss2d
from .embedding_bag import EmbeddingBag
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
    LinearCrossEntropyLoss,
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
from .normalization_nd import (
    BatchNorm2d,
    BatchNorm3d,
    CrossMapLRN2d,
    InstanceNorm2d,
    InstanceNorm3d,
    LocalResponseNorm,
)
from .padding_more import (
    CircularPad2d,
    CircularPad3d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad2d,
    ZeroPad3d,
)
from .parallel import DataParallel
from .parameter import UninitializedBuffer, UninitializedParameter
from .pooling_fractional import FractionalMaxPool2d, FractionalMaxPool3d
from .pooling_more import (
    AdaptiveAvgPool3d,
    AdaptiveMaxPool3d,
    AvgPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from .recurrent import GRU, LSTM, RNN, RNNBase
from .serialization import CheckpointError, load, save
from .sync_batchnorm import SyncBatchNorm
from .transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from .upsampling import (
    ChannelShuffle,
    PixelShuffle,
    PixelUnshuffle,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

__all__ = [
    "BCEWithLogitsLoss", "CrossEntropyLoss", "GELU", "L1Loss", "LayerNorm", "LogSoftmax", "MSELoss", "NLLLoss",
    "Softmax",
    "CheckpointError", "Dropout", "Embedding", "Flatten", "Identity", "ParameterDict", "ParameterList",
    "RemovableHandle", "Unflatten", "Linear", "ModuleDict", "ModuleList", "ReLU", "Sequential",
    "Sigmoid", "Tanh",
    "GRU", "GRUCell", "LSTM", "LSTMCell", "LoadResult", "Module", "Parameter", "RNN", "RNNBase", "RNNCell",
    "RNNCellBase", "StateDictError", "RecurrentInputError", "RecurrentStateError",
    "functional", "grad", "init", "load", "optim", "parameter", "save", "utils", "UninitializedBuffer",
    "UninitializedParameter",
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
# resizing, transposed and 3-D convolution, sliding blocks, 2-D/3-D normalisation, padding and pooling, bags
__all__ += [
    "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Fold", "Unfold", "EmbeddingBag",
    "BatchNorm2d", "BatchNorm3d", "CrossMapLRN2d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm",
    "CircularPad2d", "CircularPad3d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad2d", "ReplicationPad3d", "ZeroPad2d", "ZeroPad3d",
    "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "AvgPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "MaxPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "ChannelShuffle", "PixelShuffle", "PixelUnshuffle", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d",
]
__all__ += ["Buffer", "DataParallel", "parallel"]
__all__ += ["common_types", "factory_kwargs"]
__all__ += ["AdaptiveLogSoftmaxWithLoss", "Container", "FractionalMaxPool2d", "FractionalMaxPool3d", "NLLLoss2d",
            "SyncBatchNorm"]
__all__ += ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]

from . import _toplevel  # noqa: E402

_toplevel.install()   # torch's top-level conv2d, dropout, layer_norm … as mg.conv2d … (see nn/_toplevel.py)
# two of them are nn.functional's too (functional cannot import _toplevel: _toplevel imports functional)
functional.conv_tbc, functional.rrelu_ = _toplevel.conv_tbc, _toplevel.rrelu_
functional.__all__ += ["conv_tbc", "rrelu_"]
__all__ += ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d", "LazyConv3d",
            "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyInstanceNorm1d",
            "LazyInstanceNorm2d", "LazyInstanceNorm3d"]

from . import modules  # noqa: E402 - torch.nn.modules' import paths, naming the classes above

modules.install()
