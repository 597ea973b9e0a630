"""The two custom operations of StyleGAN2: fused bias + activation (+ gain, clamp) and upfirdn2d
(upsample, FIR filter, downsample). Each has a pure-torch reference, which is the specification, and
a CUDA kernel compiled on first use that is selected for CUDA tensors."""

from lsw_stylegan2.ops.bias_act import ACTIVATIONS, bias_act, bias_act_reference
from lsw_stylegan2.ops.upfirdn2d import setup_filter, upfirdn2d, upfirdn2d_reference, upsample2d

__all__ = [
    "ACTIVATIONS",
    "bias_act",
    "bias_act_reference",
    "setup_filter",
    "upfirdn2d",
    "upfirdn2d_reference",
    "upsample2d",
]
