"""Fused bias + activation + gain + clamp: y = clamp(act(x + b) · gain, ±clamp)."""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import torch
import torch.nn.functional as F

from lsw_stylegan2.ops import select


@attrs.frozen
class Activation:
    """An activation with its default slope (lrelu) and the gain that keeps unit variance."""

    func: Callable[[torch.Tensor, float], torch.Tensor]
    alpha: float
    gain: float
    cuda_index: int


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(lambda x, a: x, 0.0, 1.0, 0),
    "relu": Activation(lambda x, a: F.relu(x), 0.0, math.sqrt(2), 1),
    "lrelu": Activation(lambda x, a: F.leaky_relu(x, a), 0.2, math.sqrt(2), 2),
    "tanh": Activation(lambda x, a: torch.tanh(x), 0.0, 1.0, 3),
    "sigmoid": Activation(lambda x, a: torch.sigmoid(x), 0.0, 1.0, 4),
    "swish": Activation(lambda x, a: torch.sigmoid(x) * x, 0.0, math.sqrt(2), 5),
}


def _resolve(
    act: str, alpha: float | None, gain: float | None, clamp: float | None
) -> tuple[Activation, float, float, float]:
    if act not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {act!r}")
    spec = ACTIVATIONS[act]
    return (
        spec,
        float(spec.alpha if alpha is None else alpha),
        float(spec.gain if gain is None else gain),
        -1.0 if clamp is None else float(clamp),
    )


def bias_act_reference(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    *,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Pure-torch specification: add `b` along `dim`, apply `act`, scale by `gain`, clamp to ±`clamp`."""
    spec, alpha, gain, clamp = _resolve(act, alpha, gain, clamp)
    if b is not None:
        x = x + b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    x = spec.func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    *,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
    impl: str | None = None,
) -> torch.Tensor:
    """`bias_act_reference`, computed by the CUDA kernel for CUDA tensors (`impl`: "cuda", "ref" or
    None for automatic)."""
    if select.use_cuda(x, impl):
        from lsw_stylegan2.ops import cuda_ops

        spec, alpha_, gain_, clamp_ = _resolve(act, alpha, gain, clamp)
        return cuda_ops.bias_act_cuda(x, b, dim, spec.cuda_index, alpha_, gain_, clamp_)
    return bias_act_reference(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp)
