"""``torch.nn.modules`` and its submodules, for programs that import from there
(``from torch.nn.modules.module import Module``, ``isinstance(m, nn.modules.batchnorm._BatchNorm)``,
``from torch.nn.modules.utils import _pair``).

Each submodule of PyTorch's with a counterpart here (``nn.modules.rnn``, ``nn.modules.conv`` …) holds the very
classes of ``nn`` that PyTorch's holds, under the same names, including the base classes that weight-init and
freezing code tests with ``isinstance`` (``_ConvNd``, ``_BatchNorm``, ``_NormBase``, ``_InstanceNorm``,
``_DropoutNd``, ``_Loss``, ``_WeightedLoss``, the pooling bases). The classes live where minigrad's layout puts
them; these modules only name them.
"""

from __future__ import annotations

import abc
import importlib.machinery
import sys
from types import ModuleType

from .. import conv, conv_transpose, layers, layers_extra, loss, normalization, normalization_more, pooling_more
from .. import module as _module_file
from .._lazy_more import _LazyMixin
from ..module import _addindent, _IncompatibleKeys
from . import utils


class LazyModuleMixin(abc.ABC):   # noqa: B024 - a marker: isinstance(m, LazyModuleMixin) finds the lazy layers
    """PyTorch's mixin of the lazy modules, here as a marker for ``isinstance`` checks: ``LazyLinear`` and the
    lazy convolutions and norms (whose shared code is ``nn._lazy_more._LazyMixin``) are its virtual subclasses.
    Subclassing it gives a module no lazy machinery: write a lazy layer on one of the Lazy* classes."""


LazyModuleMixin.register(_LazyMixin)
LazyModuleMixin.register(layers_extra.LazyLinear)

# PyTorch's submodule → the names it defines that minigrad has (nn's public classes, then the private bases)
SUBMODULES: dict[str, tuple[str, ...]] = {
    "activation": ("CELU", "ELU", "GELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU",
                   "LogSigmoid", "LogSoftmax", "Mish", "MultiheadAttention", "PReLU", "RReLU", "ReLU", "ReLU6",
                   "SELU", "SiLU", "Sigmoid", "Softmax", "Softmax2d", "Softmin", "Softplus", "Softshrink",
                   "Softsign", "Tanh", "Tanhshrink", "Threshold"),
    "adaptive": ("AdaptiveLogSoftmaxWithLoss",),
    "batchnorm": ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
                  "LazyBatchNorm3d", "SyncBatchNorm", "_BatchNorm", "_NormBase"),
    "channelshuffle": ("ChannelShuffle",),
    "container": ("Container", "ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"),
    "conv": ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "LazyConv1d",
             "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
             "_ConvNd", "_ConvTransposeNd"),
    "distance": ("CosineSimilarity", "PairwiseDistance"),
    "dropout": ("AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout",
                "_DropoutNd"),
    "flatten": ("Flatten", "Unflatten"),
    "fold": ("Fold", "Unfold"),
    "instancenorm": ("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d",
                     "LazyInstanceNorm2d", "LazyInstanceNorm3d", "_InstanceNorm"),
    "lazy": ("LazyModuleMixin",),
    "linear": ("Bilinear", "Identity", "LazyLinear", "Linear"),
    "loss": ("BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CosineEmbeddingLoss", "CrossEntropyLoss", "GaussianNLLLoss",
             "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss", "LinearCrossEntropyLoss",
             "LinearCrossEntropyOptions", "MSELoss", "MarginRankingLoss", "MultiLabelMarginLoss",
             "MultiLabelSoftMarginLoss", "MultiMarginLoss", "NLLLoss", "NLLLoss2d",
             "PoissonNLLLoss", "SmoothL1Loss", "SoftMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
             "_Loss", "_WeightedLoss"),
    "module": ("Module", "_IncompatibleKeys", "_addindent"),
    "normalization": ("CrossMapLRN2d", "GroupNorm", "LayerNorm", "LocalResponseNorm", "RMSNorm"),
    "padding": ("CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
                "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
                "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d"),
    "pixelshuffle": ("PixelShuffle", "PixelUnshuffle"),
    "pooling": ("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
                "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "FractionalMaxPool2d",
                "FractionalMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d", "MaxPool1d", "MaxPool2d", "MaxPool3d",
                "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "_AdaptiveAvgPoolNd", "_AdaptiveMaxPoolNd",
                "_AvgPoolNd", "_LPPoolNd", "_MaxPoolNd", "_MaxUnpoolNd"),
    "rnn": ("GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"),
    "sparse": ("Embedding", "EmbeddingBag"),
    "transformer": ("Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
                    "TransformerEncoderLayer"),
    "upsampling": ("Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"),
}

# what nn itself does not export: the private bases, from the files that define them (PyTorch's names where
# ours differ), and the other names programs import from these paths
_OWN = {
    "LazyModuleMixin": LazyModuleMixin, "_IncompatibleKeys": _IncompatibleKeys, "_addindent": _addindent,
    "_BatchNorm": normalization._BatchNorm, "_NormBase": normalization._NormBase,
    "_ConvNd": conv._ConvNd, "_ConvTransposeNd": conv_transpose._ConvTransposeNd,
    "_DropoutNd": layers._DropoutNd, "_InstanceNorm": normalization_more._InstanceNormNd,
    "_Loss": loss._Loss, "_WeightedLoss": loss._WeightedLoss,
    "_AdaptiveAvgPoolNd": conv._AdaptiveAvgPoolNd, "_AdaptiveMaxPoolNd": conv._AdaptiveMaxPoolNd,
    "_AvgPoolNd": conv._AvgPoolNd, "_MaxPoolNd": conv._MaxPoolNd, "_LPPoolNd": pooling_more._LPPoolNd,
    "_MaxUnpoolNd": pooling_more._MaxUnpoolNd,
}

# the functions a submodule holds beside its classes (on the submodule and in its __all__, not on this package):
# the global hooks, which programs call through this path (``nn.modules.module.register_module_forward_hook``)
_EXTRAS: dict[str, dict[str, object]] = {
    "module": {name: getattr(_module_file, name) for name in (
        "register_module_forward_pre_hook", "register_module_forward_hook", "register_module_full_backward_pre_hook",
        "register_module_backward_hook", "register_module_full_backward_hook",
        "register_module_buffer_registration_hook", "register_module_module_registration_hook",
        "register_module_parameter_registration_hook")},
}


def _submodule(name: str, names: tuple[str, ...]) -> ModuleType:
    import nn  # noqa: PLC0415 - the package is loaded by the time this runs (nn imports this module last)

    module = ModuleType(f"{__name__}.{name}", f"The classes of ``torch.nn.modules.{name}``, as minigrad's ``nn``'s.")
    module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)
    for attribute in names:
        setattr(module, attribute, _OWN[attribute] if attribute in _OWN else getattr(nn, attribute))
    extras = _EXTRAS.get(name, {})
    for attribute, value in extras.items():
        setattr(module, attribute, value)
    module.__all__ = [*(attribute for attribute in names if attribute not in _OWN or attribute == "LazyModuleMixin"),
                      *extras]
    sys.modules[module.__name__] = module
    return module


def install() -> None:
    """Make the submodules (``nn.modules.rnn`` …) and put their public classes on this package, as torch's."""
    for name, names in SUBMODULES.items():
        module = _submodule(name, names)
        globals()[name] = module
        globals().update({attribute: getattr(module, attribute) for attribute in module.__all__ if attribute in names})


__all__ = ["utils", *SUBMODULES]
