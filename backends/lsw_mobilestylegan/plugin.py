"""Plugin registration for lsw_mobilestylegan: the `mobilestylegan` generator backend."""

from __future__ import annotations

from typing import Any

from lsw_core.plugins import hookimpl


def _factory(checkpoint: Any = None, *, lr_multiplier: float = 0.01, noise_seed: int = 0):
    from lsw_mobilestylegan.loaders import load_mobilestylegan

    return load_mobilestylegan(checkpoint, lr_multiplier=lr_multiplier, noise_seed=noise_seed)


@hookimpl
def register_generators(register):
    register(
        "mobilestylegan",
        _factory,
        description="MobileStyleGAN (FFHQ, 1024 px, distilled from StyleGAN2): the random-face wheel's OpenVINO IR "
        "(default), an IR folder, the original checkpoint, lsw folders; 23x512 W+",
    )
