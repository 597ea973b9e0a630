"""Plugin registration for lsw_stylegan2: the `stylegan2` generator backend."""

from __future__ import annotations

from typing import Any

from lsw_core.plugins import hookimpl


def _factory(checkpoint: Any = None, **options: Any):
    from lsw_stylegan2.loaders import load_stylegan2

    return load_stylegan2(checkpoint, **options)


@hookimpl
def register_generators(register):
    register(
        "stylegan2",
        _factory,
        description="StyleGAN2 (NVIDIA stylegan2-ada-pytorch layout): NVIDIA pickles, rosinality checkpoints, "
        "plain torch files, lsw folders; 18x512 W+ at 1024 px",
    )
