"""The official FFHQ configuration (`conf/model/stylenerf_ffhq.yaml` with the paper's specs) as
reference-style init kwargs, for building a generator without a checkpoint."""

from __future__ import annotations

import math
from typing import Any


def ffhq_init_kwargs(
    resolution: int = 256, z_dim: int = 512, w_dim: int = 512, mapping_layers: int = 8, **overrides: Any
) -> dict[str, Any]:
    """Init kwargs of StyleNeRF's FFHQ generator at `resolution` (64 … 1024). `overrides` replace
    top-level synthesis kwargs (e.g. `rgb_out_dim`, `channel_max` for small test models)."""
    synthesis = {
        "channel_base": 1,
        "channel_max": 1024,
        "conv_clamp": 256,
        "kernel_size": 1,
        "architecture": "skip",
        "upsample_mode": "nn_cat",
        "z_dim_bg": 32,
        "z_dim": 0,
        "resolution_vol": 32,
        "resolution_start": 32,
        "rgb_out_dim": 256,
        "use_noise": False,
        "module_name": "training.stylenerf.NeRFSynthesisNetwork",
        "no_bbox": True,
        "margin": 0,
        "magnitude_ema_beta": 0.999,
        "camera_kwargs": {
            "range_v": [math.pi / 2 - 0.155, math.pi / 2 + 0.155],
            "range_u": [-0.3, 0.3],
            "range_radius": [1.0, 1.0],
            "depth_range": [0.88, 1.12],
            "fov": 12,
            "gaussian_camera": True,
            "angular_camera": True,
            "depth_transform": None,
            "dists_normalized": False,
            "ray_align_corner": False,
            "bg_start": 0.5,
        },
        "renderer_kwargs": {
            "n_bg_samples": 4,
            "n_ray_samples": 14,
            "abs_sigma": False,
            "hierarchical": True,
            "no_background": False,
        },
        "foreground_kwargs": {
            "positional_encoding": "normal",
            "downscale_p_by": 1,
            "use_style": "StyleGAN2",
            "predict_rgb": True,
            "use_viewdirs": False,
        },
        "background_kwargs": {
            "positional_encoding": "normal",
            "hidden_size": 64,
            "n_blocks": 4,
            "downscale_p_by": 1,
            "skips": [],
            "inverse_sphere": True,
            "use_style": "StyleGAN2",
            "predict_rgb": True,
            "use_viewdirs": False,
        },
        "upsampler_kwargs": {
            "no_2d_renderer": False,
            "no_residual_img": False,
            "block_reses": None,
            "shared_rgb_style": False,
            "upsample_type": "bilinear",
        },
        "progressive": True,
        "n_reg_samples": 16,
        "reg_full": True,
    }
    synthesis.update(overrides)
    return {
        "z_dim": z_dim,
        "w_dim": w_dim,
        "c_dim": 0,
        "img_resolution": resolution,
        "img_channels": 3,
        "mapping_kwargs": {"num_layers": mapping_layers},
        "synthesis_kwargs": synthesis,
    }
