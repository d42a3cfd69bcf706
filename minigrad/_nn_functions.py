"""The names of PyTorch's top-level functional ops that the ``nn`` package defines on ``minigrad``
(``mg.conv2d``, ``mg.dropout``, ``mg.layer_norm`` …: nn/_toplevel.py, which says why they live there).

``minigrad`` never imports ``nn`` (the layers contract); ``minigrad.__getattr__`` reads this list to load ``nn``,
as ``from minigrad import nn`` does, on the first use of one of these names. tests/nn/test_missing_api_more.py
checks that the list matches nn/_toplevel.py's ``__all__``.
"""

NAMES = frozenset({
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "affine_grid_generator", "alpha_dropout", "alpha_dropout_",
    "avg_pool1d", "batch_norm", "bilinear", "binary_cross_entropy_with_logits", "celu", "celu_", "constant_pad_nd",
    "conv1d", "conv2d", "conv3d", "conv_tbc", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "cosine_embedding_loss", "cosine_similarity", "dropout", "dropout_", "embedding", "embedding_renorm_",
    "feature_alpha_dropout", "feature_alpha_dropout_", "feature_dropout", "feature_dropout_", "grid_sampler",
    "group_norm", "hardshrink", "hinge_embedding_loss", "instance_norm", "kl_div", "layer_norm",
    "margin_ranking_loss", "max_pool1d", "max_pool1d_with_indices", "max_pool2d", "max_pool3d", "pairwise_distance",
    "pdist", "poisson_nll_loss", "prelu", "relu_", "rms_norm", "rrelu", "rrelu_", "selu", "selu_", "threshold",
    "threshold_", "triplet_margin_loss",
    "gru_cell", "lstm_cell", "rnn_relu_cell", "rnn_tanh_cell",   # the functional recurrent cells
    # ATen's lower-level ones (nn/_toplevel_native.py)
    "convolution", "native_batch_norm", "native_dropout", "native_group_norm", "native_layer_norm", "norm_except_dim",
    "grid_sampler_2d", "grid_sampler_3d",
})
