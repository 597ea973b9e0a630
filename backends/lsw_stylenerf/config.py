"""The architecture settings of a StyleNeRF generator, read from the reference's init kwargs
(`z_dim`, `w_dim`, `img_resolution`, `img_channels`, `mapping_kwargs`, `synthesis_kwargs` as in
`conf/model/stylenerf_ffhq.yaml`). Settings this backend does not implement are refused by name."""

from __future__ import annotations

import math
from typing import Any

import attrs

from lsw_core.errors import CheckpointError

# Options of the reference whose value must be the FFHQ configuration's (path → accepted values).
_REQUIRED = {
    "synthesis_kwargs.kernel_size": (1,),
    "synthesis_kwargs.architecture": ("skip",),
    "synthesis_kwargs.upsample_mode": ("nn_cat",),
    "synthesis_kwargs.use_noise": (False,),
    "synthesis_kwargs.z_dim": (0,),
    "synthesis_kwargs.predict_camera": (False,),
    "synthesis_kwargs.rectangular": (None,),
    "synthesis_kwargs.prog_nerf_only": (False,),
    "synthesis_kwargs.module_name": ("training.stylenerf.NeRFSynthesisNetwork",),
    "synthesis_kwargs.camera_kwargs.angular_camera": (True,),
    "synthesis_kwargs.camera_kwargs.depth_transform": (None, "None"),
    "synthesis_kwargs.camera_kwargs.dists_normalized": (False,),
    "synthesis_kwargs.camera_kwargs.ray_align_corner": (False,),
    "synthesis_kwargs.renderer_kwargs.no_background": (False,),
    "synthesis_kwargs.renderer_kwargs.sigma_type": ("relu",),
    "synthesis_kwargs.renderer_kwargs.white_background": (False,),
    "synthesis_kwargs.upsampler_kwargs.no_2d_renderer": (False,),
    "synthesis_kwargs.upsampler_kwargs.no_residual_img": (False,),
    "synthesis_kwargs.upsampler_kwargs.block_reses": (None,),
    "synthesis_kwargs.upsampler_kwargs.shared_rgb_style": (False,),
    "synthesis_kwargs.upsampler_kwargs.channel_dict": (None,),
    "synthesis_kwargs.upsampler_kwargs.channel_base_sz": (None,),
    "synthesis_kwargs.input_kwargs.output_mode": ("none",),
}
_NERF_REQUIRED = {
    "positional_encoding": ("normal",),
    "use_viewdirs": (False,),
    "use_pos": (False,),
    "use_normal": (False,),
    "use_sdf": (None,),
    "add_rgb": (False,),
    "merge_sigma_feat": (False,),
    "no_sigma": (False,),
    "tcnn_backend": (False,),
    "disable_latents": (False,),
    "shuffle_factor": (1,),
    "normalized_feat": (False,),
    "final_sigmoid_act": (False,),
    "input_dim": (3,),
    "img_channels": (3,),
}
_NERF_OPTIONS = (
    "hidden_size",
    "n_blocks",
    "n_freq_posenc",
    "downscale_p_by",
    "use_skip",
    "predict_rgb",
    "magnitude_ema_beta",
)
_NERF_DEFAULTS = {"hidden_size": 128, "n_blocks": 8}


def _get(d: dict, path: str, default: Any = None) -> Any:
    for key in path.split("."):
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def _nerf_options(kwargs: dict, which: str) -> dict[str, Any]:
    for key, ok in _NERF_REQUIRED.items():
        if key in kwargs and kwargs[key] not in ok:
            raise CheckpointError(
                f"StyleNeRF {which} NeRF option {key}={kwargs[key]!r} is not supported "
                f"(this backend implements {ok[0]!r})"
            )
    out = dict(_NERF_DEFAULTS)
    out.update({k: kwargs[k] for k in _NERF_OPTIONS if k in kwargs})
    return out


@attrs.frozen
class SynthesisConfig:
    """Settings of `NeRFSynthesisNetwork` (names as in the reference's synthesis kwargs)."""

    w_dim: int
    img_resolution: int
    img_channels: int = 3
    rgb_out_dim: int = 256
    z_dim_bg: int = 32
    resolution_vol: int = 32
    channel_base: float = 1.0
    channel_max: int = 1024
    conv_clamp: float | None = 256
    magnitude_ema_beta: float = -1
    activation: str = "lrelu"
    foreground: dict = attrs.field(factory=dict)
    background: dict = attrs.field(factory=dict)
    # renderer
    n_ray_samples: int = 14
    n_bg_samples: int = 4
    hierarchical: bool = True
    # camera
    range_u: tuple[float, float] = (-0.3, 0.3)
    range_v: tuple[float, float] = (1.4157963267948965, 1.7257963267948966)
    range_radius: tuple[float, float] = (1.0, 1.0)
    depth_range: tuple[float, float] = (0.88, 1.12)
    fov: float = 12.0
    gaussian_camera: bool = True
    bg_start: float = 0.5

    @property
    def block_resolutions(self) -> list[int]:
        """Upsampler resolutions: powers of two above the volume resolution up to the output."""
        top = int(math.log2(self.img_resolution))
        return [2**i for i in range(2, top + 1) if 2**i > self.resolution_vol]

    def channels(self, res: int) -> int:
        return min(int(self.channel_base * 32768) // res, self.channel_max)


@attrs.frozen
class StyleNeRFConfig:
    """The whole generator: mapping network settings and the synthesis config."""

    z_dim: int
    w_dim: int
    mapping_layers: int
    mapping_lr_multiplier: float
    mapping_layer_features: int | None
    synthesis: SynthesisConfig

    @classmethod
    def from_init_kwargs(cls, kw: dict[str, Any]) -> StyleNeRFConfig:
        """Read the reference's `Generator` init kwargs (plain dicts/lists), refusing what is not implemented."""
        for key in ("z_dim", "w_dim", "img_resolution", "synthesis_kwargs"):
            if key not in kw:
                raise CheckpointError(f"StyleNeRF init kwargs: expected key {key!r}, found keys {sorted(kw)}")
        if kw.get("c_dim", 0):
            raise CheckpointError(f"StyleNeRF: class-conditional generators are not supported (c_dim={kw['c_dim']})")
        for path, ok in _REQUIRED.items():
            value = _get(kw, path, ok[0])
            if value not in ok:
                raise CheckpointError(
                    f"StyleNeRF option {path}={value!r} is not supported (this backend implements {ok[0]!r})"
                )
        res = int(kw["img_resolution"])
        if res < 64 or res & (res - 1):
            raise CheckpointError(f"StyleNeRF: expected an output resolution that is a power of two ≥ 64, got {res}")
        syn = kw["synthesis_kwargs"]
        vol = int(syn.get("resolution_vol", 32))
        if int(syn.get("resolution_start") or vol) != vol:
            raise CheckpointError(
                f"StyleNeRF: resolution_start must equal resolution_vol ({vol}), got {syn.get('resolution_start')}"
            )
        cam, ren = syn.get("camera_kwargs") or {}, syn.get("renderer_kwargs") or {}
        rgb_out = int(syn.get("rgb_out_dim", 256))
        if syn.get("rgb_out_dim_bg") not in (None, rgb_out):
            raise CheckpointError(
                "StyleNeRF: a background feature size different from the foreground's "
                f"is not supported (rgb_out_dim_bg={syn.get('rgb_out_dim_bg')})"
            )
        mapping = kw.get("mapping_kwargs") or {}
        synthesis = SynthesisConfig(
            w_dim=int(kw["w_dim"]),
            img_resolution=res,
            img_channels=int(kw.get("img_channels", 3)),
            rgb_out_dim=rgb_out,
            z_dim_bg=int(syn.get("z_dim_bg", 128)),
            resolution_vol=vol,
            channel_base=float(syn.get("channel_base", 1)),
            channel_max=int(syn.get("channel_max", 1024)),
            conv_clamp=syn.get("conv_clamp"),
            magnitude_ema_beta=float(syn.get("magnitude_ema_beta", -1)),
            activation=syn.get("activation", "lrelu"),
            foreground=_nerf_options(syn.get("foreground_kwargs") or {}, "foreground"),
            background=_nerf_options(syn.get("background_kwargs") or {}, "background"),
            n_ray_samples=int(ren.get("n_ray_samples", 14)),
            n_bg_samples=int(ren.get("n_bg_samples", 4)),
            hierarchical=bool(ren.get("hierarchical", True)),
            range_u=tuple(cam.get("range_u", (0, 0))),
            range_v=tuple(cam.get("range_v", (0.25, 0.25))),
            range_radius=tuple(cam.get("range_radius", (2.732, 2.732))),
            depth_range=tuple(cam.get("depth_range", (0.5, 6.0))),
            fov=float(cam.get("fov", 49.13)),
            gaussian_camera=bool(cam.get("gaussian_camera", False)),
            bg_start=float(cam.get("bg_start", 1.0)),
        )
        return cls(
            z_dim=int(kw["z_dim"]),
            w_dim=int(kw["w_dim"]),
            mapping_layers=int(mapping.get("num_layers", 8)),
            mapping_lr_multiplier=float(mapping.get("lr_multiplier", 0.01)),
            mapping_layer_features=mapping.get("layer_features"),
            synthesis=synthesis,
        )
