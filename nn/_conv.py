"""Convolution and pooling as ``torch.nn.functional``'s: ``conv1d``, ``conv2d``, ``max_pool1d``/``2d``,
``avg_pool1d``/``2d``, ``adaptive_avg_pool1d``, ``adaptive_max_pool1d`` (re-exported by ``nn.functional``).

Everything works on kernel offsets: along each spatial dim, output position o of kernel offset k reads padded
input position o·stride + k·dilation, so one offset reads one strided slice of the (padded) input and its
gradient adds back into the same slice; no pass scatters element by element. :class:`Unfold` (im2col) stacks
the slices into windows (N, C, *K, *O). A real convolution is one op, :class:`Convolution`: a matmul of the
weight with the windows, which it does not keep (PyTorch keeps x and the weight too): backward goes offset by
offset, one matmul per kernel offset over x's slice, or unfolds x again where few input channels make those thin;
a depthwise one adds the slices times their weights. A real transposed convolution (``nn._fold``'s
conv_transpose1d/2d/3d) is :class:`ConvTranspose`, the same op run backward. A max pool (:class:`MaxPool`) is a
running maximum over the slices that keeps only each window's chosen offset; an average pool sums the slices
(:class:`WindowSum`) and divides with ordinary ops. Complex and empty convolutions unfold and matmul as ops.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable

import numpy

import minigrad as mg
from minigrad import Tensor, memory_formats
from minigrad._nn_support import fresh_memory
from minigrad.int_arguments import int_tuple

from ._activations import _reads_input
from ._arguments import _floating, _floating_or_complex, _tensor
from ._errors import ArgumentFormError, InputDtypeError, InputRankError, InputShapeError
from ._flags import flag
from ._gradient_layout import (
    channels_last_as,
    channels_last_format,
    contiguous_gradient,
    in_order,
    input_gradient_order,
)

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d",
           "avg_pool2d", "conv1d", "conv2d", "max_pool1d", "max_pool2d"]


class Unfold(mg.Function):
    """im2col: the windows of a kernel sliding over x (N, C, *S) → (N, C, *K, *O).

    x is first padded with ``value`` by ``padding`` ((before, after) ≥ 0 per spatial dim). Along each
    spatial dim, output position o of kernel offset k reads padded position o·stride + k·dilation, so
    one kernel offset reads one strided slice: K slices forward, K slice-adds backward.
    """

    name = "unfold"
    complex_grad = True   # linear with real coefficients (padded with 0): the same backward; see autograd.engine

    def __init__(self, kernel: tuple, stride: tuple, dilation: tuple, padding: tuple, value: float,
                 out_size: tuple) -> None:
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.padding, self.value, self.out_size = padding, value, out_size

    def _window(self, offsets: tuple) -> tuple:
        """The index of the slice that kernel offset ``offsets`` reads from the padded input."""
        return (slice(None), slice(None)) + tuple(
            slice(k * d, k * d + s * (o - 1) + 1, s)
            for k, s, d, o in zip(offsets, self.stride, self.dilation, self.out_size))

    def _offsets(self) -> Any:
        """Every kernel offset (k_1, …, k_d), in row-major order."""
        return itertools.product(*(range(k) for k in self.kernel))

    def _pad(self, x: Any) -> Any:
        """x (N, C, *S) padded with ``value`` by ``padding``; records the padded shape for backward."""
        if any(before or after for before, after in self.padding):
            x = self.xp.pad(x, ((0, 0), (0, 0), *self.padding), constant_values=self.value)
        self.padded_shape = x.shape
        return x

    def forward(self, x: Any) -> Any:
        x = self._pad(x)
        windows = [x[self._window(offsets)] for offsets in self._offsets()]
        return self.xp.stack(windows, axis=2).reshape(x.shape[:2] + self.kernel + self.out_size)

    def backward(self, gy: Any) -> Any:
        gy = gy.reshape(gy.shape[:2] + (math.prod(self.kernel),) + self.out_size)
        return self._col2im(lambda i: gy[:, :, i], gy.dtype)

    def _col2im(self, part: Callable[[int], Any], dtype: Any) -> Any:
        """col2im, the backward of every op that reads the kernel offsets' slices (this one, :class:`MaxPool`,
        :class:`WindowSum`): zeros of the padded input's shape (``padded_shape``, ``dtype``), ``part(i)`` (N, C, *O)
        added into kernel offset i's slice for each offset in row-major order, and the padding cut off again
        (:func:`_inner`: C-contiguous)."""
        gx = self.xp.zeros(self.padded_shape, dtype=dtype)
        for i, offsets in enumerate(self._offsets()):
            gx[self._window(offsets)] += part(i)
        return _inner(gx, self.padding)


class Convolution(mg.Function):
    """A grouped cross-correlation of real x (N, C, *S) with weight (O, C/G, *K), plus an optional bias (O,) →
    (N, O, *O_size), in C order or the channels-last ``layout`` PyTorch's kernel allocates: one node, as PyTorch's
    ConvolutionBackward0 (the bias's gradient is the output gradient summed over N and the positions).

    Forward is an im2col (:class:`Unfold`; x itself for a 1×1 kernel at stride 1 without padding) and one matmul
    per group; it keeps only x and the weight for backward, as PyTorch's ConvolutionBackward0, not the windows (∏K
    times x): backward works kernel offset by kernel offset on x's slices (:meth:`_offset_backward`), or, with few
    input channels per group, unfolds x again for the weight's gradient. x is kept only for the weight's gradient
    and the weight only for x's (a frozen kernel keeps nothing of x, as ``x @ W`` with a frozen W). With one input
    channel per group (depthwise) and few outputs per group, the windows are never built: each kernel offset's
    strided slice of x is multiplied by its weight and added (a batch of (1, ∏K) @ (∏K, P) products is a loop of
    tiny matmuls)."""

    name = "convolution"

    def __init__(self, groups: int, kernel: tuple, stride: tuple, dilation: tuple, padding: tuple,
                 out_size: tuple, layout: Any = None) -> None:
        self.groups = groups
        self.unfold = Unfold(kernel, stride, dilation, padding, 0.0, out_size)
        self.layout = layout   # None (C order) or the channels-last memory format of the result

    def _shapes(self) -> tuple:
        """(N, G, C/G·∏K, O/G, P): the matmul's sizes."""
        groups, unfold = self.groups, self.unfold
        return (self.x_shape[0], groups, self.x_shape[1] // groups * math.prod(unfold.kernel),
                self.weight_shape[0] // groups, math.prod(unfold.out_size))

    def _direct(self) -> bool:
        """Whether to sum kernel offsets' slices instead of a matmul: one input and few outputs per group."""
        return self.x_shape[1] == self.groups and self.weight_shape[0] // self.groups <= DIRECT_OUTPUTS

    def forward(self, x: Any, weight: Any, bias: Any = None) -> Any:
        needs = self.needs_grad   # (set before forward; empty where not known: both kept)
        self.saved = (x if not needs or needs[1] else None, weight if not needs or needs[0] else None)
        self.x_shape, self.weight_shape = x.shape, weight.shape
        self.unfold.xp = self.xp
        y = self._convolve(x, weight)   # (the op's own array: added to in place)
        if bias is not None:
            y += bias.reshape(-1, *(1,) * len(self.unfold.out_size))
        return y if self.layout is None else memory_formats.in_format(y, self.layout, "convolution")

    def _convolve(self, x: Any, weight: Any, columns: Any = None) -> Any:
        """x ⋆ weight (N, O, *O_size), a new C-order array (x's order for x's own columns where ``layout`` is
        given), from x of shape ``x_shape`` (the op's :class:`ConvTranspose` convolves its output's gradient);
        ``columns``: x's windows (:meth:`_columns`) where the caller made them already."""
        unfold = self.unfold
        batch, groups, inner, per_group, positions = self._shapes()
        if columns is None and self._direct():
            y = self._direct_forward(x, weight)
        else:
            columns = self._columns(x) if columns is None else columns
            y = weight.reshape(groups, per_group, inner) @ columns                        # (N, G, O/G, P)
            if self.layout is None and not y.flags.c_contiguous:   # (x's own columns: NumPy's matmul takes x's order)
                y = self.xp.ascontiguousarray(y)
        return y.reshape(batch, groups * per_group, *unfold.out_size)

    def backward(self, gy: Any) -> tuple:
        grads = self._gradients(gy, *self.saved, self.needs_grad)
        if self.layout is not None:
            grads = self._laid_out(*grads)
        if len(self.needs_grad) < 3:   # no bias
            return grads
        spatial = tuple(range(2, gy.ndim))
        return grads + (gy.sum(axis=(0,) + spatial) if self.needs_grad[2] else None,)

    def _laid_out(self, gx: Any, gw: Any) -> tuple:
        """x's and the weight's gradients in the result's channels-last ``layout``, as PyTorch's kernels allocate both
        (a channels-last x or weight makes all three channels-last; a C-order result keeps C order)."""
        in_format = memory_formats.in_format
        return (None if gx is None else in_format(gx, self.layout, "convolution"),
                None if gw is None else in_format(gw, self.layout, "convolution"))

    def _gradients(self, gy: Any, x: Any, weight: Any, needs: tuple, columns: Any = None) -> tuple:
        """x's and the weight's gradients from the output's ``gy`` (None where ``needs`` says none is needed; x or
        the weight None where no gradient reads it). x's gradient is C-contiguous, a new array of its own.
        ``columns``: x's windows (:meth:`_columns`) where the caller made them already (then the weight's gradient
        is their product with the gradient, whatever the sizes)."""
        if columns is None and self._direct():
            return self._direct_backward(gy, x, weight, needs)
        if columns is None and self._by_offset():
            return self._offset_backward(gy, x, weight, needs)
        xp, unfold = self.xp, self.unfold
        batch, groups, inner, per_group, positions = self._shapes()
        gx = gw = None
        g = gy.reshape(batch, groups, per_group, positions)
        if needs[0]:
            spread = xp.swapaxes(weight.reshape(groups, per_group, inner), -1, -2) @ g      # (N, G, C/G·∏K, P)
            if self._pointwise():   # each window one entry of x: the columns are x's gradient
                gx = spread.reshape(self.x_shape)
            else:   # C-contiguous, as PyTorch's (the inner slice of a padded sum is a strided view)
                gx = xp.ascontiguousarray(unfold.backward(spread.reshape(self.x_shape[:2] + unfold.kernel +
                                                                         unfold.out_size)))
        if needs[1]:
            columns = self._columns(x) if columns is None else columns
            gw = (g @ xp.swapaxes(columns, -1, -2)).sum(axis=0).reshape(self.weight_shape)
        return gx, gw

    def _columns(self, x: Any) -> Any:
        """x's windows as (N, G, C/G·∏K, P) (:class:`Unfold`'s): x itself where each window is one entry of it (a
        1×1 kernel at stride 1 without padding: the output keeps x's size), no copy."""
        batch, groups, inner, _, positions = self._shapes()
        if self._pointwise():
            self.unfold.padded_shape = x.shape   # (for a create_graph rule's col2im: nothing padded)
            return x.reshape(batch, groups, inner, positions)
        return self.unfold.forward(x).reshape(batch, groups, inner, positions)

    def _pointwise(self) -> bool:
        """Whether each window is one entry of x, in order: a 1×1 kernel at stride 1 without padding (the output
        keeps x's size; a stride with padding can keep the size too, and is not one), over all of x (a transposed
        convolution's output padding gives :class:`ConvTranspose` entries past the last window)."""
        unfold = self.unfold
        return (math.prod(unfold.kernel) == 1 and all(s == 1 for s in unfold.stride)
                and not any(before or after for before, after in unfold.padding)
                and tuple(self.x_shape[2:]) == unfold.out_size)

    def _by_offset(self) -> bool:
        """Whether backward goes kernel offset by kernel offset (:meth:`_offset_backward`) instead of through the
        windows: with enough input channels per group that each offset's (C/G, O/G) products run at a matmul's
        full speed (a few input channels against many outputs, as an RGB first layer, make them thin), and
        enough output positions to outweigh a loop of ∏K steps (a 1×1 kernel has one offset: the windows')."""
        batch, groups, _, per_group, positions = self._shapes()
        channels = self.x_shape[1] // groups
        return (channels * BY_OFFSET_RATIO >= per_group and batch * positions >= BY_OFFSET_POSITIONS
                and math.prod(self.unfold.kernel) > 1)

    def _offset_backward(self, gy: Any, x: Any, weight: Any, needs: tuple) -> tuple:
        """The gradients (x's, the weight's; None where not needed) without the windows (C/G·∏K, N·P) of x or
        of the gradient: per kernel offset k, x's part is weight_kᵀ (C/G, O/G) @ g (O/G, N·P) added into the
        offset's strided slice of x's padded gradient, and the weight's is g @ the offset's slice of x (copied
        into one reused (C, N, *O) buffer)ᵀ: one matmul each over the whole batch, laid out channels first
        ((C, N, *S): x and its gradient transposed once) so that each is a plain 2-D product per group."""
        xp, unfold = self.xp, self.unfold
        batch, groups, _, per_group, positions = self._shapes()
        channels, offsets = self.x_shape[1] // groups, math.prod(unfold.kernel)
        g = xp.ascontiguousarray(xp.swapaxes(gy.reshape(batch, groups * per_group, positions), 0, 1))
        g = g.reshape(groups, per_group, batch * positions)                              # (G, O/G, N·P)
        buffer = xp.empty((groups * channels, batch) + unfold.out_size, dtype=gy.dtype)   # one offset's (C, N, *O)
        flat = buffer.reshape(groups, channels, batch * positions)
        padded_shape = (groups * channels, batch) + tuple(
            n + before + after for n, (before, after) in zip(self.x_shape[2:], unfold.padding))
        inner = (slice(None), slice(None)) + tuple(
            slice(before, before + n) for n, (before, _) in zip(self.x_shape[2:], unfold.padding))
        gx_padded = kernel = x_padded = gw = None
        if needs[0]:
            gx_padded = xp.zeros(padded_shape, dtype=gy.dtype)
            kernel = weight.reshape(groups, per_group, channels, offsets)
            kernel = xp.ascontiguousarray(kernel.transpose(3, 0, 2, 1))                  # (∏K, G, C/G, O/G)
        if needs[1]:
            padded = any(before or after for before, after in unfold.padding)
            x_padded = (xp.zeros if padded else xp.empty)(padded_shape, dtype=x.dtype)
            x_padded[inner] = xp.swapaxes(x, 0, 1)
            gw = xp.empty((offsets, groups, per_group, channels), dtype=gy.dtype)
        for i, offset in enumerate(unfold._offsets()):
            window = unfold._window(offset)
            if gx_padded is not None:
                xp.matmul(kernel[i], g, out=flat)
                gx_padded[window] += buffer
            if gw is not None:
                xp.copyto(buffer, x_padded[window])
                xp.matmul(g, xp.swapaxes(flat, -1, -2), out=gw[i])
        # (a copy: with N = 1 the swapped view is C-contiguous by its flags, not by its size-1 dim's stride)
        gx = None if gx_padded is None else xp.swapaxes(gx_padded[inner], 0, 1).copy()
        if gw is not None:
            gw = xp.ascontiguousarray(gw.transpose(1, 2, 3, 0)).reshape(self.weight_shape)
        return gx, gw

    def _direct_forward(self, x: Any, weight: Any) -> Any:
        """The depthwise path's result (N, G, O/G, *O): each kernel offset's slice of x times its weight, added."""
        xp, unfold = self.xp, self.unfold
        batch, groups, _, per_group, _ = self._shapes()
        padded = unfold._pad(x)
        kernel = weight.reshape(groups, per_group, -1)
        spread = (1,) * len(unfold.out_size)   # a weight broadcast over the output positions
        y = xp.empty((batch, groups, per_group, *unfold.out_size), dtype=x.dtype)
        term = xp.empty_like(y)   # one buffer for every offset's product (no fresh arrays)
        for i, offsets in enumerate(unfold._offsets()):
            entries = padded[unfold._window(offsets)][:, :, None]
            xp.multiply(kernel[:, :, i].reshape(groups, per_group, *spread), entries, out=term if i else y)
            if i:
                xp.add(y, term, out=y)
        return y

    def _direct_backward(self, gy: Any, x: Any, weight: Any, needs: tuple) -> tuple:
        """The depthwise path's gradients (x's, the weight's; None where not needed): per kernel offset, the
        gradient times the offset's weight adds into its slice of x's, and the gradient times the slice sums
        into the offset's weight."""
        xp, unfold = self.xp, self.unfold
        batch, groups, _, per_group, _ = self._shapes()
        gx = None
        g = gy.reshape(batch, groups, per_group, *unfold.out_size)
        kernel = weight.reshape(groups, per_group, -1) if needs[0] else None
        spread = (1,) * len(unfold.out_size)
        padded = unfold._pad(x) if needs[1] else None
        gx_padded = xp.zeros(unfold.padded_shape, dtype=gy.dtype) if needs[0] else None
        gw = xp.empty((groups, per_group, math.prod(unfold.kernel)), dtype=gy.dtype) if needs[1] else None
        space = "xyz"[:len(spread)]
        sums = f"ngo{space},ng{space}->go"
        term = xp.empty((batch, groups, *unfold.out_size), dtype=gy.dtype) if per_group == 1 else None
        for i, offsets in enumerate(unfold._offsets()):
            window = unfold._window(offsets)
            if gx_padded is not None and term is not None:   # (one output per group: nothing to sum)
                gx_padded[window] += xp.multiply(kernel[:, 0, i].reshape(groups, *spread), g[:, :, 0], out=term)
            elif gx_padded is not None:
                gx_padded[window] += (kernel[:, :, i].reshape(groups, per_group, *spread) * g).sum(axis=2)
            if gw is not None:
                gw[:, :, i] = xp.einsum(sums, g, padded[window])   # (no (N, G, O/G, P) temporary)
        if gx_padded is not None:
            gx = _inner(gx_padded, unfold.padding)
        return gx, None if gw is None else gw.reshape(self.weight_shape)


class ConvTranspose(Convolution):
    """A grouped transposed convolution of real x (N, C_in, *I) with weight (C_in, C_out/G, *K), plus an optional
    bias (C_out,) → (N, C_out, *O_size): the gradient of the convolution of an (N, C_out, *O_size) input with that
    weight (C_in outputs), whose output has x's size. One node, as PyTorch's ConvolutionBackward0 (transposed), that
    keeps only x and the weight, as PyTorch's, each only for the other's gradient.

    The math is :class:`Convolution`'s, written once: this op is that convolution (its ``x_shape`` is this op's output
    shape, its ``unfold`` reads windows of the output) run backward. Forward is the convolution's input gradient
    with x as the output gradient (the weight times x, folded back: col2im); backward is the convolution itself of
    the output's gradient for x's gradient, and the convolution's weight gradient with the roles swapped (the
    output's gradient as its input, x as its output gradient) for the weight's. A bias of another float dtype than
    x (PyTorch's 1-D/2-D CPU kernels take one) is added in the wider dtype, rounded once to x's; its gradient comes
    in its dtype by the engine's cast (autograd.engine._dtype_gate)."""

    name = "convolution"

    def __init__(self, groups: int, kernel: tuple, stride: tuple, dilation: tuple, padding: tuple, in_size: tuple,
                 out_size: tuple, layout: Any = None) -> None:
        super().__init__(groups, kernel, stride, dilation, padding, in_size, layout)
        self.out_size = out_size   # the result's spatial size (the convolution's input's; ``unfold.out_size``: x's)

    def forward(self, x: Any, weight: Any, bias: Any = None) -> Any:
        needs = self.needs_grad   # (set before forward; empty where not known: both kept)
        self.saved = (x if not needs or needs[1] else None, weight if not needs or needs[0] else None)
        batch, out_channels = x.shape[0], weight.shape[1] * self.groups
        self.x_shape, self.weight_shape = (batch, out_channels) + self.out_size, weight.shape
        self.empty = 0 in self.x_shape or 0 in x.shape   # (then the result is empty: nothing is multiplied)
        if self.empty:
            self.input_shape = x.shape
            return self.xp.zeros(self.x_shape, dtype=x.dtype)
        unfold = self.unfold
        unfold.xp = self.xp
        unfold.padded_shape = (batch, out_channels) + tuple(
            n + before + after for n, (before, after) in zip(self.out_size, unfold.padding))
        y, _ = self._gradients(x, None, weight, (True, False))   # (the op's own array: added to in place)
        if bias is not None:
            bias = bias.reshape(-1, *(1,) * len(self.out_size))
            if bias.dtype == y.dtype:
                y += bias
            else:   # (another float dtype's: added in the wider dtype, rounded once)
                y[...] = y + bias
        return y if self.layout is None else memory_formats.in_format(y, self.layout, "convolution")

    def backward(self, gy: Any) -> tuple:
        x, weight = self.saved   # (None where no gradient reads it)
        needs, xp = self.needs_grad, self.xp
        if self.empty:   # zeros (an empty result: x and the weight took part in no product)
            gx = xp.zeros(self.input_shape, dtype=gy.dtype) if needs[0] else None
            gw = xp.zeros(self.weight_shape, dtype=gy.dtype) if needs[1] else None
        elif needs[0] and needs[1] and not self._direct():   # the output gradient's windows made once, for both
            columns = self._columns(gy)
            gx, gw = self._convolve(gy, weight, columns), self._gradients(x, gy, None, (False, True), columns)[1]
        else:
            gx = self._convolve(gy, weight) if needs[0] else None
            gw = self._gradients(x, gy, None, (False, True))[1] if needs[1] else None
        if self.layout is not None:
            gx, gw = self._laid_out(gx, gw)
        if len(needs) < 3:   # no bias
            return gx, gw
        return gx, gw, gy.sum(axis=(0,) + tuple(range(2, gy.ndim))) if needs[2] else None

    def convolution(self) -> Convolution:
        """A new :class:`Convolution` op of this one's sizes: the op that gives x's gradient (create_graph's rule
        records it)."""
        unfold = self.unfold
        return Convolution(self.groups, unfold.kernel, unfold.stride, unfold.dilation, unfold.padding,
                           unfold.out_size)


DIRECT_OUTPUTS = 4   # Convolution's direct path: at most this many outputs per group (a depthwise convolution's 1)
# Convolution's backward by kernel offset: C/G · ratio ≥ O/G (3 input channels against 64 outputs made each offset's
# products 4x slower than the windows' one matmul; 4 against 8 ran as fast), and N·P at least this many positions
BY_OFFSET_RATIO = 2
BY_OFFSET_POSITIONS = 256


def _inner(padded: Any, padding: tuple) -> Any:
    """``padded`` (N, C, *S_padded) without its spatial ``padding`` ((before, after) per dim), C-contiguous: a new
    array (``padded`` itself where nothing is padded), not a view of it, whose strides are C order's for size-1 dims
    too (a view's were the padded array's, as (64, 8, 1) for an unbatched (1, 4, 8) result of PyTorch's (32, 8, 1))."""
    if not any(before or after for before, after in padding):
        return padded
    inner = tuple(slice(before, n - after) for (before, after), n in zip(padding, padded.shape[2:]))
    return padded[(slice(None), slice(None)) + inner].copy()


# --- arguments ---------------------------------------------------------------------------------

def _backward_takes_inputs(y: Tensor) -> Tensor:
    """``y``, its op marked as one whose gradients PyTorch computes from both inputs (a convolution's or
    grid_sample's backward takes the input and the weight or grid): with ``create_graph=True`` each gradient is
    then tied to the other inputs, so it requires grad whenever they do, and a second derivative that is zero by
    linearity is None ("not used"), not a "does not require grad" error."""
    node = y._node   # not grad_fn: that fits PyTorch's name to the node, which this does not need
    if node is not None:
        node.reads_input = "unused"
    return y


def _ints(value: Any, dims: int, name: str, what: str, low: int | None, int_list: bool = False) -> tuple:
    """An int or a sequence of ``dims`` ints, each >= ``low`` (if given), as a tuple of ``dims`` ints (PyTorch's
    ``_single``/``_pair``, checked). A one-element sequence stands for all ``dims``, as torch's C++ ops take it.

    Read as PyTorch's argument parser reads a list of ints (:func:`minigrad.int_arguments.int_tuple`): only the first
    element may not be a Python bool (a later one is 0 or 1), and a bool tensor in the sequence raises its
    RuntimeError where the argument is a SymInt list (a convolution's stride, padding, dilation, a weight's shape,
    adaptive_avg_pool's output size); ``int_list``: the argument is one of its plain int lists (the window pools',
    im2col's, adaptive_max_pool's), where a bool tensor is 0 or 1. A single value, a bool or integer tensor too
    (not a Python bool), stands for every dim."""
    if isinstance(value, (tuple, list)):
        numbers = int_tuple(tuple(value) * dims if len(value) == 1 and dims > 1 else value, name, what, int_list)
    else:
        numbers = int_tuple(value, name, what, dims=True, sized=True) * dims
    if len(numbers) != dims:   # ints, too many or too few: PyTorch's RuntimeError
        raise ArgumentFormError(f"{name}: {what} must be an int or a tuple of {dims} ints, got {value!r}")
    if low is not None and numbers and min(numbers) < low:
        raise InputShapeError(f"{name}: {what} must be {'positive' if low else 'non-negative'}, got {value!r}")
    return numbers


def _python_tuple(value: Any, name: str, what: str) -> Any:
    """``value`` as PyTorch's Python ``_single``/``_pair``/``_triple`` leave it (its modules' constructors, F.unfold,
    F.fold, lp_pool2d/3d): a tensor is iterable, so a 0-d one raises its TypeError ("iteration over a 0-d tensor")
    and ``tensor([k])`` is the one-element tuple ``(tensor(k),)``; anything else is returned for :func:`_ints`."""
    if isinstance(value, (Tensor, numpy.ndarray)):   # (collections.abc.Iterable, as PyTorch's _ntuple tests)
        if value.ndim == 0:
            raise TypeError(f"{name}: {what} is iterated as PyTorch's: iteration over a 0-d "
                            f"{'tensor' if isinstance(value, Tensor) else 'array'} {value!r:.40}")
        return tuple(value)
    return value


def _module_ints(value: Any, dims: int, name: str, what: str, low: int | None, int_list: bool = False,
                 weight_shape: bool = False) -> tuple:
    """A module constructor's int or ``dims`` ints (a convolution's or a pool's kernel_size, stride, …), as PyTorch's
    module reads it: through its Python ``_single``/``_pair``/``_triple`` (:func:`_python_tuple`: a 0-d tensor is
    its TypeError), then as :func:`_ints` (``int_list`` as there). ``weight_shape``: a convolution's kernel_size,
    the weight's shape after its channels, so a Python bool anywhere in it is 0 or 1 (``Conv2d(2, 2, True)`` has a
    1×1 kernel)."""
    value = _python_tuple(value, name, what)
    if not isinstance(value, (tuple, list)):   # _ntuple's repeat: a listed __index__ object, not a bare one
        value = (value,) * dims
    if weight_shape and isinstance(value, (tuple, list)):
        value = tuple(int(v) if type(v) is bool else v for v in value)
    elif weight_shape and type(value) is bool:
        value = int(value)
    return _ints(value, dims, name, what, low, int_list)


def _unspread(value: Any, dims: int, name: str, what: str) -> None:
    """PyTorch's refusal of a one-element sequence ``value`` for a size of ``dims`` > 1 dims where it does not
    stand for every dim (a convolution module's kernel_size makes a weight of the wrong rank, fractional max
    pooling's C++ check): ArgumentFormError, its RuntimeError. :func:`_ints` spreads it, as the C++ ops that do."""
    if dims > 1 and isinstance(value, (tuple, list)) and len(value) == 1:
        raise ArgumentFormError(f"{name}: {what} must be an int or a tuple of {dims} ints, got {value!r} (PyTorch "
                                f"does not spread a one-element {what} over the {dims} dims here)")


def _batched(x: Tensor, dims: int, name: str) -> tuple[Tensor, bool]:
    """(N, C, *S) as given, or an unbatched (C, *S) with a batch dim of 1 added; and whether it was added."""
    if x.ndim == dims + 1:
        return x.unsqueeze(0), True
    if x.ndim != dims + 2:   # (0-d: PyTorch's pools read dim -3 first, an IndexError)
        error = InputRankError if x.ndim == 0 else InputShapeError
        raise error(f"{name}: expected a {dims + 1}-D (unbatched) or {dims + 2}-D (batched) input, got shape "
                    f"{x.shape}")
    return x, False


def _out_size(size: int, kernel: int, stride: int, dilation: int, before: int, after: int, name: str,
              shape: tuple) -> int:
    span = dilation * (kernel - 1) + 1
    if size + before + after < span:
        raise InputShapeError(f"{name}: the padded input size {size + before + after} is smaller than the kernel's "
                              f"extent {span} (kernel size {kernel}, dilation {dilation}) for an input of shape "
                              f"{shape}")
    return (size + before + after - span) // stride + 1


# --- convolution -------------------------------------------------------------------------------

def _uses_mkldnn(x_shape: tuple, weight_shape: tuple, stride: tuple, dilation: tuple, groups: int) -> bool:
    """Whether PyTorch's CPU convolution of float32 x (N, C, *S) takes mkldnn (ConvParams::use_mkldnn), whose 3-D
    result follows a channels-last operand; its native 3-D kernel gives C order. A 1×1 kernel (its last two dims)
    without stride or dilation on fewer than 16 samples runs natively on one thread, and a single sample needs
    groups, a kernel over 3×3 in its last two dims or N·C·S₁·S₂ over 20480 values."""
    if not (any(s != 1 for s in stride) or any(d != 1 for d in dilation) or x_shape[0] >= 16
            or weight_shape[-1] != 1 or weight_shape[-2] != 1 or mg.get_num_threads() > 1):
        return False
    return (groups > 1 or (weight_shape[-1] > 3 and weight_shape[-2] > 3) or x_shape[0] > 1
            or math.prod(x_shape[:4]) > 20480)


def _conv(name: str, dims: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any,  # noqa: A002
          dilation: Any, groups: Any) -> Tensor:
    x, weight = _floating_or_complex(input, name), _tensor(weight, name, "weight")
    stride, dilation = _conv_arguments(name, dims, stride, padding, dilation, groups)
    x, unbatched = _batched(x, dims, name)
    if weight.ndim != dims + 2:
        raise InputShapeError(f"{name}: weight must be {dims + 2}-D (out_channels, in_channels/groups, *kernel), "
                              f"got shape {weight.shape}")
    if weight.dtype != x.dtype or (bias is not None and _tensor(bias, name, "bias").dtype != x.dtype):
        raise InputDtypeError(f"{name}: input ({x.dtype}), weight ({weight.dtype}) and bias "
                              f"({getattr(bias, 'dtype', None)}) must have the same dtype")
    out_channels, channels_per_group, *kernel = weight.shape
    kernel = tuple(kernel)
    if out_channels == 0:
        raise InputShapeError(f"{name}: weight of shape {weight.shape} has no output channels (dim 0 must be at "
                              f"least 1)")
    if x.shape[1] != channels_per_group * groups or out_channels % groups:
        raise InputShapeError(f"{name}: with groups={groups}, weight of shape {weight.shape} expects an input with "
                              f"{channels_per_group * groups} channels (dim 1) and out_channels divisible by groups; "
                              f"got input of shape {x.shape}")
    if bias is not None and bias.shape != (out_channels,):
        raise InputShapeError(f"{name}: bias must have shape ({out_channels},), got {bias.shape}")
    pads = _conv_padding(padding, kernel, stride, dilation, dims, name)
    out_size = tuple(_out_size(n, k, s, d, before, after, name, x.shape)
                     for n, k, s, d, (before, after) in zip(x.shape[2:], kernel, stride, dilation, pads))
    given = x
    if x.dtype.kind == "f" and 0 not in x.shape and 0 not in weight.shape:
        if any(before != after for before, after in pads) and weight.requires_grad and mg.is_grad_enabled():
            # padding='same' with an odd total: PyTorch pads a copy by the extra element and convolves that, so
            # its backward reads the copy, and x may change in place after the op (ours read x and refused)
            x = _zeros_after(x, [after - before for before, after in pads])
            pads = tuple((before, before) for before, _ in pads)
        # PyTorch's 3-D kernels lay out by dtype (mkldnn's float32 follows a channels-last operand; float64 and
        # float16 give C order, as float32 where PyTorch picks its native kernel over mkldnn)
        layout = None if unbatched or (dims == 3 and x.dtype != numpy.float32) \
            else channels_last_format(dims + 2, given, weight)
        if layout is not None and dims == 3 and not _uses_mkldnn(x.shape, weight.shape, stride, dilation, groups):
            layout = None
        # (its result reshapes the op's own temporary: memory no other tensor shares)
        operands = (x, weight) if bias is None else (x, weight, bias)
        y = Convolution(groups, kernel, stride, dilation, pads, out_size, layout)(*operands)
        y = _backward_takes_inputs(fresh_memory(y))
        return y.squeeze(0) if unbatched else y
    else:   # complex values and empty sizes: im2col and a matmul, as ops (their complex and empty rules)
        windows = Unfold(kernel, stride, dilation, pads, 0.0, out_size)(x)        # (N, C, *K, *O)
        batch = x.shape[0]
        columns = windows.reshape(batch, groups, channels_per_group * math.prod(kernel), math.prod(out_size))
        y = _backward_takes_inputs(weight.reshape(groups, out_channels // groups, -1) @ columns)   # (N, G, out/G, O)
        y = y.reshape(batch, out_channels, *out_size)
    if bias is not None:
        y = y + bias.reshape(out_channels, *(1,) * dims)
    if unbatched:
        return y.squeeze(0)
    return channels_last_as(y, given, weight) if dims == 2 else y


def _conv_arguments(name: str, dims: int, stride: Any, padding: Any, dilation: Any, groups: Any) -> tuple:
    """(stride, dilation) as tuples, checked with ``padding`` and ``groups`` before any shape, as PyTorch's
    argument parser does: a non-int is its TypeError, whatever the shapes."""
    if isinstance(groups, bool) or not isinstance(groups, (int, numpy.integer)):
        raise TypeError(f"{name}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise InputShapeError(f"{name}: groups must be a positive int, got {groups!r}")
    if not isinstance(padding, str):
        _ints(padding, dims, name, "padding", 0)
    return _ints(stride, dims, name, "stride", 1), _ints(dilation, dims, name, "dilation", 1)


def _conv_padding(padding: Any, kernel: tuple, stride: tuple, dilation: tuple, dims: int, name: str) -> tuple:
    """((before, after), …) per spatial dim: ints, or PyTorch's 'valid' (none) and 'same' (the output keeps
    the input's size; an odd total puts the extra element after, as PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * dims
        if padding != "same":
            raise InputShapeError(f"{name}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
        if any(s != 1 for s in stride):
            raise InputShapeError(f"{name}: padding='same' is not supported for strided convolutions (stride={stride})")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((total // 2, total - total // 2) for total in totals)
    return tuple((p, p) for p in _ints(padding, dims, name, "padding", 0))


def _zeros_after(x: Tensor, extra: list) -> Tensor:
    """``x`` (N, C, *spatial) with ``extra[d]`` zeros appended along spatial dim d (a new tensor; the gradient flows
    to x's part), as ``F.pad(x, (0, e, ...))`` but without importing nn.functional, which imports this module."""
    for axis, count in enumerate(extra, start=2):
        if count:
            shape = list(x.shape)
            shape[axis] = count
            x = mg.cat([x, mg.zeros(shape, dtype=x.dtype, device=x.device)], dim=axis)
    return x


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``.

    input: (N, C_in, L) or unbatched (C_in, L); weight: (C_out, C_in/groups, k); bias: (C_out,) →
    (N, C_out, L_out), L_out = ⌊(L + 2·padding - dilation·(k - 1) - 1) / stride⌋ + 1. ``padding``: an int,
    ``'valid'`` (0) or ``'same'`` (L_out = L; stride 1 only). Zero padding; see ``nn.Conv1d`` for others.
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    input: (N, C_in, H, W) or unbatched (C_in, H, W); weight: (C_out, C_in/groups, kH, kW); bias: (C_out,)
    → (N, C_out, H_out, W_out), each as in :func:`conv1d`. ``stride``, ``padding``, ``dilation``: an int or
    a pair; ``padding`` also ``'valid'`` or ``'same'``.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


# --- pooling -------------------------------------------------------------------------------------

def _pool_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool,
                   name: str, shape: tuple) -> int:
    """PyTorch's pooling output size: ⌊ or ⌈(size + 2p - d(k - 1) - 1) / s⌉ + 1, where in ceil mode a last
    window that would start past the input and its left padding is dropped."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise InputShapeError(f"{name}: input of shape {shape} is too small: the computed output size is {out} "
                              f"(kernel size {kernel}, stride {stride}, padding {padding}, dilation {dilation})")
    return out


def _pool_unfold(name: str, dims: int, input: Any, kernel_size: Any, stride: Any, padding: Any,  # noqa: A002
                 dilation: Any, ceil_mode: Any, value: float, integers: bool = False) -> tuple:
    """The :class:`Unfold` that reads the pooling windows (N, C, *K, *O) of ``input`` padded with ``value`` (extra
    on the right in ceil mode), with the batched input, whether it was unbatched, and the parsed kernel, stride,
    padding, output size. ``integers``: an integer input is taken too (padded with its dtype's minimum for a
    ``value`` of -inf)."""
    x = _tensor(input, name)
    # the arguments first, as PyTorch's parser: any non-int is its TypeError, before any value or input check
    given = {"kernel_size": kernel_size, "stride": stride, "padding": padding, "dilation": dilation}
    if stride is None or (isinstance(stride, (tuple, list)) and not stride):
        given["stride"] = kernel_size
    parsed = {what: _ints(value, dims, name, what, None, int_list=True) for what, value in given.items()}
    kernel, stride, padding, dilation = (_ints(parsed[what], dims, name, what, low) for what, low in
                                         (("kernel_size", 1), ("stride", 1), ("padding", 0), ("dilation", 1)))
    if not (integers and x.dtype.kind in "iu"):
        x = _floating(x, name)
    elif value == float("-inf"):
        value = numpy.iinfo(x.dtype).min
    x, unbatched = _batched(x, dims, name)
    if 0 in x.shape[1:]:   # PyTorch: only a batched input's batch dim may be empty
        raise InputShapeError(f"{name}: expected a {dims + 1}-D or {dims + 2}-D (batch mode) input with non-zero sizes "
                              f"except an optional 0 batch dim, got shape {tuple(input.shape)}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise InputShapeError(f"{name}: padding should be at most half of kernel size, got padding={padding} and "
                              f"kernel_size={kernel}")
    out_size = tuple(_pool_out_size(n, k, s, p, d, flag(ceil_mode, name, "ceil_mode"), name, x.shape)
                     for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    # the right padding reaches the end of the last window (in ceil mode past the given padding)
    pads = tuple((p, max((o - 1) * s + d * (k - 1) + 1 - n - p, 0))
                 for n, k, s, p, d, o in zip(x.shape[2:], kernel, stride, padding, dilation, out_size))
    return Unfold(kernel, stride, dilation, pads, value, out_size), x, unbatched, kernel, stride, padding, out_size


def _inside_windows(size: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                    out_size: tuple) -> Any:
    """(prod(K), *O) booleans: whether each window position reads the input rather than its padding."""
    inside = numpy.ones((), dtype=bool)
    for n, k, s, p, d, o in zip(size, kernel, stride, padding, dilation, out_size):
        positions = numpy.arange(k)[:, None] * d + numpy.arange(o)[None, :] * s - p   # (k, o)
        inside = numpy.multiply.outer(inside, (positions >= 0) & (positions < n))
    # axes (k0, o0, k1, o1, …) → (k0, k1, …, o0, o1, …), then the kernel axes flattened
    order = [2 * i for i in range(len(size))] + [2 * i + 1 for i in range(len(size))]
    return inside.transpose(order).reshape(math.prod(kernel), *out_size)


class MaxPool(mg.Function):
    """The largest entry of each window of x (N, C, *S) → (N, C, *O), as PyTorch's max-pool kernel picks it.

    A running maximum over the kernel offsets, one strided slice of the padded input each (no windows array):
    a later entry wins only when larger, so the first largest entry is picked; a NaN always wins, so a window
    with NaNs picks its last; a padding entry (-inf, an integer's minimum) is no entry: a window whose largest
    value is the padding value picks its first input entry. Keeps only the offset of each window's choice
    (int8 for a kernel of < 128 entries) for backward, which adds the gradient into that offset's slice.
    """

    name = "max_pool"

    def __init__(self, unfold: Unfold, inside: Any) -> None:
        self.unfold = unfold
        self.inside = inside   # (∏K, *O) host booleans: which window entries read the input; None: all do

    def forward(self, x: Any) -> Any:
        xp, unfold = self.xp, self.unfold
        unfold.xp = xp   # (the create_graph rule runs its backward, col2im, as an op)
        padded = unfold._pad(x)
        size = math.prod(unfold.kernel)
        small = numpy.int8 if size < 128 else numpy.int16 if size < 2 ** 15 else numpy.int64
        # NaNs: a later one wins. The host looks for one first (a GPU would read the answer back: it always looks)
        nan = x.dtype.kind == "f" and (xp is not numpy or bool(xp.isnan(x).any()))
        values = choice = None
        for i, offsets in enumerate(unfold._offsets()):
            entries = padded[unfold._window(offsets)]
            if values is None:
                values, choice = entries.copy(), xp.zeros(entries.shape, dtype=small)
                continue
            later = entries > values
            if nan:
                later |= entries != entries
            xp.maximum(values, entries, out=values)   # (a NaN stays: PyTorch's value of a window with one)
            choice = xp.where(later, i, choice).astype(small, copy=False)
        if self.inside is not None:   # a window whose largest is the padding value: its first input entry
            low = numpy.iinfo(x.dtype).min if x.dtype.kind in "iub" else float("-inf")
            first_inside = xp.asarray(self.inside.argmax(axis=0).astype(small))
            choice = xp.where(values == low, first_inside, choice).astype(small, copy=False)
        self.saved = (choice,)
        self.chosen = choice   # for the caller's indices (saved_tensors_hooks may pack self.saved); it deletes it
        self.gradient_order = input_gradient_order(x)
        return values

    def backward(self, gy: Any) -> Any:
        (choice,) = self.saved
        xp = self.xp
        # x's gradient in x's suggested memory format, as PyTorch's kernel allocates it (channels-last for one)
        return in_order(self.unfold._col2im(lambda i: xp.where(choice == i, gy, 0), gy.dtype), self.gradient_order)


class WindowSum(mg.Function):
    """The sum of each window of x (N, C, *S) padded with zeros → (N, C, *O): an average pool's numerator.

    Adds the kernel offsets' strided slices of the padded input in order (a window's entries in row-major order,
    as summing its unfolded windows did), so no windows array (∏K/∏stride times x) is made or kept; backward adds
    the gradient into each slice. Keeps nothing for backward.
    """

    name = "window_sum"
    complex_grad = True   # linear, real coefficients: the same backward (autograd.engine's gate)

    def __init__(self, unfold: Unfold) -> None:
        self.unfold = unfold

    def forward(self, x: Any) -> Any:
        xp, unfold = self.xp, self.unfold
        unfold.xp = xp   # (the create_graph rule runs its backward, col2im, as an op)
        padded = unfold._pad(x)
        total = None
        for offsets in unfold._offsets():
            entries = padded[unfold._window(offsets)]
            total = entries.copy() if total is None else xp.add(total, entries, out=total)
        self.gradient_order = input_gradient_order(x)
        return total

    def backward(self, gy: Any) -> Any:
        # x's gradient in x's suggested memory format, as PyTorch's kernel allocates it (channels-last for one)
        return in_order(self.unfold._col2im(lambda i: gy, gy.dtype), self.gradient_order)


class AvgPool(WindowSum):
    """An average pool of x (N, C, *S) → (N, C, *O): each window's sum (:class:`WindowSum`) divided by ``divisor``
    (a number, or the (*O) float array of each window's count), in C order or the channels-last ``layout`` of
    PyTorch's kernel; one node, as PyTorch's AvgPool2DBackward0. Backward: the gradient divided, to every entry of
    its window."""

    name = "avg_pool"

    def __init__(self, unfold: Unfold, divisor: Any, layout: Any = None) -> None:
        super().__init__(unfold)
        self.divisor, self.layout = divisor, layout

    def forward(self, x: Any) -> Any:
        xp = self.xp
        divisor = self.divisor if isinstance(self.divisor, float) else xp.asarray(self.divisor)
        total = super().forward(x)   # (the op's own array: divided in place)
        total = xp.divide(total, divisor, out=total)
        return total if self.layout is None else memory_formats.in_format(total, self.layout, "avg_pool")

    def backward(self, gy: Any) -> Any:
        divisor = self.divisor if isinstance(self.divisor, float) else self.xp.asarray(self.divisor)
        return super().backward(gy / divisor)


def _max_pool(name: str, dims: int, input: Any, kernel_size: Any, stride: Any, padding: Any,  # noqa: A002
              dilation: Any, ceil_mode: Any, return_indices: Any) -> Any:
    # torch's 2-D and 3-D CPU kernels also take integer tensors (no gradient); its 1-D one refuses them, but
    # max_pool1d(return_indices=True) is max_pool1d_with_indices, the 2-D kernel: integers taken there too
    indices = flag(return_indices, name, "return_indices")
    unfold, x, unbatched, kernel, stride, padding, out_size = _pool_unfold(
        name, dims, input, kernel_size, stride, padding, dilation, ceil_mode, float("-inf"),
        integers=dims > 1 or indices)
    dilation = _ints(dilation, dims, name, "dilation", 1, int_list=True)
    inside = _inside_windows(x.shape[2:], kernel, stride, padding, dilation, out_size)
    pool = MaxPool(unfold, None if inside.all() else inside)
    values = _reads_input(pool(x))   # PyTorch's max-pool backward reads x
    choice = pool.chosen   # (N, C, *O): each window's kernel offset
    del pool.chosen
    values = values.squeeze(0) if unbatched else channels_last_as(values, x)   # PyTorch's kernel's layout
    if not indices:
        return values
    # each choice as a flat index into the input's spatial dims, as PyTorch's indices
    with mg.no_grad():
        choice = mg.as_tensor(choice.astype(numpy.int64)[:, :, None])   # (N, C, 1, *O)
        index = mg.zeros(choice.shape, dtype=mg.int64, device=x.device)
        for axis in range(dims):
            # the choice's offset in the window along this axis (unravelled from its flat kernel position)
            step = choice // math.prod(kernel[axis + 1:]) % kernel[axis] * dilation[axis]
            starts = numpy.arange(out_size[axis]) * stride[axis] - padding[axis]
            starts = mg.as_tensor(mg.make_array(starts.reshape((-1,) + (1,) * (dims - 1 - axis)), numpy.int64,
                                                x.device))
            index = index * x.shape[2 + axis] + (step + starts)
        index = index.squeeze(2)
    return values, index.squeeze(0) if unbatched else channels_last_as(index, x)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The largest entry of each window, as ``torch.nn.functional.max_pool1d``.

    input: (N, C, L) or (C, L) → (N, C, L_out), L_out = ⌊(L + 2·padding - dilation·(k - 1) - 1) / stride⌋ + 1
    (⌈⌉ with ``ceil_mode``, a last window starting in the right padding dropped). ``stride`` defaults to
    ``kernel_size``; padding (with -inf) at most half the kernel. The gradient goes to the first largest entry
    (to the last NaN of a window holding NaNs, as PyTorch's).
    ``return_indices``: also the int64 position in L of each maximum, as PyTorch's.
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """:func:`max_pool1d` over the last two dims: (N, C, H, W) or (C, H, W) → (N, C, H_out, W_out); each
    argument an int or a pair. ``return_indices``: positions in the flattened H·W plane, as PyTorch's."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _window_counts(size: int, kernel: int, stride: int, padding: int, out: int, include_pad: bool) -> Any:
    """How many entries each average-pooling window divides by, as PyTorch: the window clipped to the
    padded input (``include_pad``) or to the input itself."""
    starts = numpy.arange(out) * stride - padding
    ends = numpy.minimum(starts + kernel, size + padding)
    if include_pad:
        return ends - starts
    return numpy.minimum(ends, size) - numpy.maximum(starts, 0)


def _avg_pool(name: str, dims: int, input: Any, kernel_size: Any, stride: Any, padding: Any,  # noqa: A002
              ceil_mode: Any, count_include_pad: Any, divisor_override: Any = None) -> Tensor:
    if divisor_override is not None:   # PyTorch's argument parser's TypeError, before any shape; then 0 refused
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, numpy.integer)):
            raise TypeError(f"{name}: divisor_override must be an int, got {divisor_override!r}")
        if divisor_override == 0:
            raise InputShapeError(f"{name}: divisor_override must be non-zero, got {divisor_override!r}")
    # PyTorch's CPU kernels take int64 too: the exact sum divided by the count, rounded toward zero
    integers = getattr(input, "dtype", None) == mg.int64
    unfold, x, unbatched, kernel, stride, padding, out_size = _pool_unfold(
        name, dims, input, kernel_size, stride, padding, 1, ceil_mode, 0, integers=integers)
    if integers:
        sums = _reads_input(WindowSum(unfold)(x))   # PyTorch's backward reads x (zeros)
        divisor = divisor_override
        if divisor is None:
            divisor = mg.as_tensor(mg.make_array(_avg_counts(x, kernel, stride, padding, out_size, name,
                                                             count_include_pad), x.dtype, x.device))
        out = mg.div(sums, divisor, rounding_mode="trunc")
        return out.squeeze(0) if unbatched else out
    if divisor_override is not None:
        divisor = float(divisor_override)
    else:
        divisor = _avg_counts(x, kernel, stride, padding, out_size, name, count_include_pad).astype(x.dtype)
    layout = channels_last_format(x.ndim, x) if dims == 2 and not unbatched else None   # (avg_pool3d: C order)
    out = _reads_input(AvgPool(unfold, divisor, layout)(x))   # PyTorch's backward reads x (zeros)
    return out.squeeze(0) if unbatched else out


def _avg_counts(x: Tensor, kernel: tuple, stride: tuple, padding: tuple, out_size: tuple, name: str,
                count_include_pad: Any) -> Any:
    """The (*O) int64 NumPy array of how many entries each average-pooling window of ``x`` divides by."""
    include_pad = flag(count_include_pad, name, "count_include_pad")
    counts = numpy.ones((), dtype=numpy.int64)
    for n, k, s, p, o in zip(x.shape[2:], kernel, stride, padding, out_size):
        counts = numpy.multiply.outer(counts, _window_counts(n, k, s, p, o, include_pad))
    return counts


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """The mean of each window, as ``torch.nn.functional.avg_pool1d``: (N, C, L) or (C, L) → (N, C, L_out),
    L_out as in :func:`max_pool1d` (no dilation). Zero padding, at most half the kernel; each window divides
    by its size clipped to the padded input (``count_include_pad``) or to the input alone."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """:func:`avg_pool1d` over the last two dims: (N, C, H, W) or (C, H, W) → (N, C, H_out, W_out); each
    argument an int or a pair; ``divisor_override`` divides every window's sum by itself instead."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# --- adaptive pooling ------------------------------------------------------------------------------

def _adaptive_bounds(input: Any, output_size: Any, name: str) -> tuple:  # noqa: A002
    """The input (a float Tensor of 2 or 3 dims) and PyTorch's adaptive windows along its last dim:
    window i covers [⌊i·L/out⌋, ⌈(i + 1)·L/out⌉)."""
    x = _floating(input, name)
    if x.ndim not in (2, 3) or x.shape[-1] == 0:
        raise InputShapeError(f"{name}: expected a 2-D (C, L) or 3-D (N, C, L) input with L > 0, got shape {x.shape}")
    if isinstance(output_size, (tuple, list)) and len(output_size) == 1 and output_size[0] is None:
        output_size = None   # (a one-int list is read as a list: a bare __index__ object is refused, not a listed one)
    if output_size is None:   # keeps L (PyTorch's 1-D pools refuse None; its 2-D/3-D ones keep a dim)
        output_size = x.shape[-1]
    (out,) = _ints(output_size, 1, name, "output_size", 0, int_list=True)   # (int[1], as the max pool's int[])
    length = x.shape[-1]
    steps = numpy.arange(out)
    return x, steps * length // out, -((-(steps + 1) * length) // out)


def _some_channels(x: Tensor, dims: int, name: str) -> None:
    """PyTorch's adaptive max pools (and its 3-D average pool) refuse a batched input with no channels, (N, 0, *S);
    an unbatched (0, *S) is a batch of none and pools to (0, *out)."""
    if x.ndim == dims + 2 and x.shape[1] == 0:
        raise InputShapeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input "
                              f"has sizes {tuple(x.shape)} with dimension 1 being empty")


def complex_mean_to_ones(input: Any, output_size: Any, dims: int, name: str) -> Tensor | None:  # noqa: A002
    """PyTorch's adaptive average pools of a complex input to all-1 output sizes (a None over a dim of size 1
    counts): its ``input.mean`` over the pooled dims, which its pools take before their kernels (those have no
    complex one, so any other size is refused); None where that is not the case."""
    listed = isinstance(output_size, (tuple, list))   # (PyTorch's _list_with_default wants a dim more for a list)
    if not isinstance(input, Tensor) or input.dtype.kind != "c" or input.ndim < dims + (dims == 1 or listed):
        return None
    if dims == 1:
        sizes = tuple(output_size) if listed else (output_size,)
    else:
        sizes = _listed_sizes(output_size, dims, name)
    if len(sizes) != dims or not all(size == 1 if type(size) is int else size is None and length == 1
                                     for size, length in zip(sizes, input.shape[-dims:])):
        return None
    return input.mean(dim=tuple(range(-dims, 0)), keepdim=True)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Mean over ``output_size`` windows that tile the last dim, as PyTorch's: (N, C, L) or (C, L) →
    (N, C, output_size); window i covers [⌊i·L/out⌋, ⌈(i + 1)·L/out⌉). ``None`` keeps L."""
    mean = complex_mean_to_ones(input, output_size, 1, "adaptive_avg_pool1d")
    if mean is not None:
        return mean
    x, starts, ends = _adaptive_bounds(input, output_size, "adaptive_avg_pool1d")
    return _window_means(x, x.ndim - 1, starts, ends)


def _window_means(x: Tensor, axis: int, starts: Any, ends: Any) -> Tensor:
    """The mean of ``x`` over each window [starts[i], ends[i]) (host int arrays) along ``axis``, which becomes
    len(starts) long. Each window's entries are gathered and summed (a narrower window repeats its first position,
    masked out), so a NaN or inf reaches only its own windows, as in PyTorch's kernel (a matmul with a 0/1
    averaging matrix spread it to every window: 0·inf is NaN)."""
    if len(starts) == 0:   # no windows: an empty slice
        return x.narrow(axis, 0, 0)
    x = contiguous_gradient(x)   # x's gradient C order, as PyTorch's kernel writes it (not the moved dims' view)
    out, width = len(starts), int((ends - starts).max())
    if out * width == x.shape[axis] and (starts == numpy.arange(out) * width).all() and (ends - starts == width).all():
        # windows that tile the axis (output 1, or a divisor of the length): no index, mask or count arrays (no
        # host-to-device copies on a GPU); laid out (width, out, *), so each window adds its entries in order,
        # as the gathered windows below and PyTorch's kernel do
        windows = x.movedim(axis, 0).unflatten(0, (out, width)).movedim(1, 0).contiguous()
        # C order, as PyTorch's result; its backward reads x (zeros), as the other pools'
        return _reads_input((windows.sum(dim=0) / width).movedim(0, axis).contiguous())
    table = starts[:, None] + numpy.arange(width)                                        # (out, widest window)
    inside = table < ends[:, None]
    moved = x.movedim(axis, -1)[..., numpy.where(inside, table, starts[:, None])]       # (*, out, width)
    sums = mg.where(mg.as_tensor(mg.make_array(inside, numpy.bool_, x.device)), moved, 0).sum(dim=-1)
    counts = mg.as_tensor(mg.make_array((ends - starts).astype(x.dtype), x.dtype, x.device))
    return _reads_input((sums / counts).movedim(-1, axis).contiguous())   # C order, as PyTorch's (.view works)


def _max_positions(windows: Tensor, table: Tensor) -> Tensor:
    """(*, *O) int64: for each adaptive window (the last dim of ``windows``, (*, *O, k), read at the input
    positions ``table`` (*O, k), row-major so increasing), the input position of its maximum as PyTorch's kernel
    picks it: the first largest entry, or where the window holds NaNs the last NaN (the largest NaN position; a
    narrow window's repeats of its first position never exceed it)."""
    choice = windows.argmax(dim=-1, keepdim=True)
    first = table.broadcast_to(windows.shape).gather(-1, choice).squeeze(-1)
    last_nan = mg.where(windows != windows, table, -1).amax(dim=-1)
    return mg.where(last_nan >= 0, last_nan, first)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:  # noqa: A002
    """Largest entry of ``output_size`` windows that tile the last dim (as :func:`adaptive_avg_pool1d`'s), as
    PyTorch's: (N, C, L) or (C, L) → (N, C, output_size), the gradient to the first largest entry;
    ``return_indices``: also each maximum's int64 position in L."""
    x, starts, ends = _adaptive_bounds(input, output_size, "adaptive_max_pool1d")
    _some_channels(x, 1, "adaptive_max_pool1d")
    # (out, widest window) positions; a narrower window repeats its first position, which leaves its max unchanged
    width = int((ends - starts).max(initial=1))
    table = starts[:, None] + numpy.arange(width)
    table = numpy.where(table < ends[:, None], table, starts[:, None])
    table = mg.as_tensor(mg.make_array(table, numpy.int64, x.device))
    with mg.no_grad():
        windows = x.detach()[..., table]                                     # (*, out, width)
        indices = _max_positions(windows, table)
    values = _reads_input(x.gather(-1, indices))   # PyTorch's max-pool backward reads x
    return (values, indices) if flag(return_indices, "adaptive_max_pool1d", "return_indices") else values


def _listed_sizes(output_size: Any, dims: int, name: str) -> Any:
    """An adaptive 2-D/3-D pool's ``output_size`` as PyTorch's Python ``_list_with_default`` reads it before its
    parser: a Python int (a bool too, refused later) for every dim, else a sequence (a tensor with dims gives its
    items) whose Nones keep the input's sizes; anything else (a NumPy integer, a 0-d tensor, None) has no ``len()``,
    its TypeError."""
    if isinstance(output_size, int):
        return (output_size,) * dims
    if isinstance(output_size, Tensor) and output_size.ndim:
        return tuple(output_size)
    if not isinstance(output_size, (tuple, list)):
        raise TypeError(f"{name}: output_size must be an int or a sequence of {dims} ints or Nones, got "
                        f"{output_size!r:.60} (as PyTorch's, which takes its len())")
    return output_size


def _adaptive_windows_2d(input: Any, output_size: Any, name: str) -> tuple:  # noqa: A002
    """The input (a float Tensor of 3 or 4 dims) and PyTorch's adaptive windows along each of its last two dims,
    ((starts, ends) over H, (starts, ends) over W); an ``output_size`` entry of None keeps that dim's size."""
    x = _floating(input, name)
    if x.ndim not in (3, 4) or 0 in x.shape[-2:]:
        raise InputShapeError(f"{name}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input with H, W > 0, "
                              f"got shape {x.shape}")
    sizes = _listed_sizes(output_size, 2, name)
    if len(sizes) != 2:
        raise ArgumentFormError(f"{name}: output_size must be an int or a pair, got {output_size!r}")
    sizes = tuple(length if size is None else size for size, length in zip(sizes, x.shape[-2:]))
    windows = []
    # adaptive_avg_pool2d's output_size is a SymInt list (a bool tensor refused), adaptive_max_pool2d's an int list
    for out, length in zip(_ints(sizes, 2, name, "output_size", 0, int_list="max" in name), x.shape[-2:]):
        steps = numpy.arange(out)
        windows.append((steps * length // out, -((-(steps + 1) * length) // out)))
    return x, windows


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Mean over the ``output_size`` (an int or a pair; None keeps a dim) windows that tile the last two dims,
    as PyTorch's: (N, C, H, W) or (C, H, W) → (N, C, H_out, W_out); along each dim window i covers
    [⌊i·L/out⌋, ⌈(i + 1)·L/out⌉). The mean over a rectangle is the mean over its rows of the means over its
    columns."""
    mean = complex_mean_to_ones(input, output_size, 2, "adaptive_avg_pool2d")
    if mean is not None:
        return channels_last_as(mean, input) if mean.ndim == 4 else mean
    x, ((starts_h, ends_h), (starts_w, ends_w)) = _adaptive_windows_2d(input, output_size, "adaptive_avg_pool2d")
    out = _window_means(_window_means(x, x.ndim - 1, starts_w, ends_w), x.ndim - 2, starts_h, ends_h)
    return channels_last_as(out, x)   # PyTorch's kernel's layout


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:  # noqa: A002
    """Largest entry of each window of :func:`adaptive_avg_pool2d`'s, as PyTorch's: (N, C, H, W) or (C, H, W) →
    (N, C, H_out, W_out), the gradient to the first largest entry in row-major order; ``return_indices``: also
    each maximum's int64 position in the flattened H·W plane."""
    x, ((starts_h, ends_h), (starts_w, ends_w)) = _adaptive_windows_2d(input, output_size, "adaptive_max_pool2d")
    _some_channels(x, 2, "adaptive_max_pool2d")
    height, width = x.shape[-2:]
    # (H_out, W_out, widest window) flat positions, row-major within each window; a smaller window repeats its
    # first position, which leaves its maximum and the first index of it unchanged
    rows = starts_h[:, None] + numpy.arange(int((ends_h - starts_h).max(initial=1)))
    rows = numpy.where(rows < ends_h[:, None], rows, starts_h[:, None])               # (H_out, kh)
    cols = starts_w[:, None] + numpy.arange(int((ends_w - starts_w).max(initial=1)))
    cols = numpy.where(cols < ends_w[:, None], cols, starts_w[:, None])               # (W_out, kw)
    table = (rows[:, None, :, None] * width + cols[None, :, None, :]).reshape(len(rows), len(cols),
                                                                              rows.shape[1] * cols.shape[1])
    table = mg.as_tensor(mg.make_array(table, numpy.int64, x.device))
    flat = x.reshape(*x.shape[:-2], height * width)
    with mg.no_grad():
        windows = flat.detach()[..., table]                                    # (*, H_out, W_out, kh·kw)
        indices = _max_positions(windows, table)
    out_shape = indices.shape
    values = _reads_input(flat.gather(-1, indices.reshape(*x.shape[:-2], len(rows) * len(cols)))).reshape(out_shape)
    values, indices = channels_last_as(values, x), channels_last_as(indices, x)   # PyTorch's kernel's layout
    return (values, indices) if flag(return_indices, "adaptive_max_pool2d", "return_indices") else values
