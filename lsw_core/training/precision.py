"""Training precision: `fp32`, or `bf16` autocast around the frozen networks (synthesis, identity
embedder, shape model). The mixer, its gradients, the optimizer state and the loss sum stay fp32."""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16")


def networks_autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context the frozen networks run in."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
