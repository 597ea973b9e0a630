"""The synthetic world's identity embedder and 3DMM-coefficient regressor: two small CNNs.

Both read face images in [-1, 1] of any size, resample them to `input_size` pixels (area averaging
when shrinking, so a 128 or 256 px render is antialiased; bilinear when enlarging; both
differentiable) and run the same plain convolutional backbone. They are frozen inside the mixer's
training loss, where gradients flow through them to the generator, so they are kept small, smooth
(SiLU, GroupNorm, no batch statistics, no hard argmax) and fast.

Weights are a weights file (`lsw_core.formats.artifacts`) whose metadata holds the architecture (`config`),
so loading checks that the file fits the network it is loaded into and says what differs. The
shipped files predate that format (their metadata is `{"config", "metrics"}` alone) and load as
they are.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn
from torch.nn import functional as F

from lsw_core.errors import CheckpointError, LswError
from lsw_core.formats.artifacts import load_checked, read_info, read_tensors, save_weights
from lsw_core.formats.bounds import MAX_DEPTH, MAX_WIDTH, check_int, check_resolution, check_size
from lsw_core.interfaces import LANDMARK_FRAME, IdentityEmbedder, ShapeModel

FORMAT = "lsw-synthface-net"
EMBEDDER_FILE = "embedder.safetensors"
REGRESSOR_FILE = "regressor.safetensors"


def shipped_weights(filename: str) -> Path:
    """Path of a weights file shipped as package data in `lsw_synthface/weights/`."""
    return Path(str(resources.files("lsw_synthface").joinpath("weights", filename)))


@attrs.frozen(kw_only=True)
class BackboneConfig:
    """Architecture of the convolutional backbone shared by both networks."""

    input_size: int = 64
    widths: tuple[int, ...] = attrs.field(default=(24, 48, 96, 192), converter=tuple)
    hidden: int = 176
    #: the side of the square the network reads, as a fraction of the image, centred on the head
    #: (face recognition networks read a tight crop of the face, too)
    field: float = 0.72

    @property
    def final_size(self) -> int:
        return self.input_size // 2 ** len(self.widths)


def crop_field(images: torch.Tensor, field: float) -> torch.Tensor:
    """The central square of side `field` (a fraction of the image) around the head centre of the
    world's renders, at whole pixels."""
    if field >= 1:
        return images
    from lsw_synthface.projection import SCREEN_CENTRE

    h, w = images.shape[-2:]
    side = max(1, round(field * min(h, w)))
    top = min(max(0, round(SCREEN_CENTRE[1] * h - side / 2)), h - side)
    left = min(max(0, round(SCREEN_CENTRE[0] * w - side / 2)), w - side)
    return images[..., top : top + side, left : left + side]


def resample(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images [B, C, H, W] → [B, C, size, size]: area averaging to shrink, bilinear to enlarge."""
    if images.shape[-2:] == (size, size):
        return images
    if images.shape[-1] >= size and images.shape[-2] >= size:
        return F.interpolate(images, size=(size, size), mode="area")
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=False)


class ConvStage(nn.Module):
    """One resolution halving: a stride-2 3×3 convolution, then (unless `single`) a 3×3 convolution
    with a residual connection; GroupNorm and SiLU after each."""

    def __init__(self, in_channels: int, out_channels: int, *, single: bool = False, groups: int = 8):
        super().__init__()
        self.down = nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1)
        self.norm1 = nn.GroupNorm(groups, out_channels)
        self.conv = None if single else nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.norm2 = None if single else nn.GroupNorm(groups, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.norm1(self.down(x)))
        if self.conv is not None:
            x = x + F.silu(self.norm2(self.conv(x)))
        return x


class Backbone(nn.Module):
    """Image [B, 3, input_size, input_size] → `out_features` values: stride-2 stages down to a small
    map, flattened (so where a feature is stays known, which pose and landmarks need), then a
    two-layer head."""

    def __init__(self, config: BackboneConfig, out_features: int):
        super().__init__()
        self.config = config
        stages, c_in = [], 3
        for i, c_out in enumerate(config.widths):
            stages.append(ConvStage(c_in, c_out, single=i == 0))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.fc1 = nn.Linear(c_in * config.final_size**2, config.hidden)
        self.fc2 = nn.Linear(config.hidden, out_features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stages(resample(crop_field(images, self.config.field), self.config.input_size))
        return self.fc2(F.silu(self.fc1(x.flatten(1))))


class SynthFaceEmbedder(IdentityEmbedder):
    """Identity embedder of the synthetic world: images [B, 3, H, W] in [-1, 1] → unit vectors
    [B, dim]. Trained to embed a face at the unit vector of its standardised identity coefficients
    with a constant last component (`lsw_synthface.fit`), whatever its pose, expression, lighting
    and appearance: a smooth identity space in the spirit of Smooth-Swap's embedder, in which
    1 − cos is an identity distance that weighs every identity coefficient alike. With `mirror`,
    an image and its mirror image are embedded together (the shipped embedder does this)."""

    def __init__(self, *, dim: int, backbone: BackboneConfig | None = None, mirror: bool = False):
        super().__init__()
        self.dim = dim
        self.mirror = mirror
        self.backbone = Backbone(backbone or BackboneConfig(), dim)

    def config(self) -> dict[str, Any]:
        return {
            "kind": "synthface-id",
            "dim": self.dim,
            "mirror": self.mirror,
            "backbone": attrs.asdict(self.backbone.config),
        }

    def _embed(self, images: torch.Tensor) -> torch.Tensor:
        if not self.mirror:
            return self.backbone(images)
        # The world's identities are left-right symmetric: embed a face as the mean direction of
        # its image and its mirror image, which halves the variance pose and lighting leave.
        both = F.normalize(self.backbone(torch.cat([images, images.flip(-1)])), dim=1)
        return both[: len(images)] + both[len(images) :]


class SynthFaceShapeModel(ShapeModel):
    """3DMM-coefficient regressor of the synthetic world: images → coefficients
    cat(identity [NI], expression [NE], pose [3] as yaw/pitch/roll degrees), the world's own
    morphable-model parameters. The network predicts standardised coefficients; the buffers
    `coeff_mean`/`coeff_std` (the world's prior, measured when fitting) map them back.
    `landmarks` projects the 68 landmarks through the world's morphable model."""

    def __init__(self, *, identity_dim: int, expression_dim: int, backbone: BackboneConfig | None = None):
        super().__init__()
        self.identity_dim = identity_dim
        self.expression_dim = expression_dim
        self.num_coeffs = identity_dim + expression_dim + 3
        self.backbone = Backbone(backbone or BackboneConfig(), self.num_coeffs)
        self.register_buffer("coeff_mean", torch.zeros(self.num_coeffs))
        self.register_buffer("coeff_std", torch.ones(self.num_coeffs))

    def config(self) -> dict[str, Any]:
        return {
            "kind": "synthface-3dmm",
            "identity_dim": self.identity_dim,
            "expression_dim": self.expression_dim,
            "backbone": attrs.asdict(self.backbone.config),
        }

    def standardised(self, images: torch.Tensor) -> torch.Tensor:
        """The network's raw output: coefficients in units of the prior's standard deviation."""
        return self.backbone(images)

    def _regress(self, images: torch.Tensor) -> torch.Tensor:
        return self.standardised(images) * self.coeff_std + self.coeff_mean

    def split(self, coeffs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """coeffs [B, num_coeffs] → (identity [B, NI], expression [B, NE], pose [B, 3])."""
        ni, ne = self.identity_dim, self.expression_dim
        return coeffs[:, :ni], coeffs[:, ni : ni + ne], coeffs[:, ni + ne :]

    def fuse(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The source's identity with the target's expression and pose."""
        return torch.cat([source[:, : self.identity_dim], target[:, self.identity_dim :]], dim=1)

    def landmarks(self, coeffs: torch.Tensor) -> torch.Tensor:
        """The 68 landmarks [B, 68, 2] in pixels of the `LANDMARK_FRAME`-pixel square image,
        differentiable in `coeffs`."""
        from lsw_synthface.projection import project_landmarks

        return project_landmarks(*self.split(coeffs)) * LANDMARK_FRAME

    def parts(self, coeffs: torch.Tensor) -> dict[str, torch.Tensor]:
        identity, expression, pose = self.split(coeffs)
        return {"identity": identity, "expression": expression, "pose": pose}


def save_net(
    net: nn.Module, path: str | os.PathLike, dtype: torch.dtype = torch.float16, metrics: dict[str, Any] | None = None
) -> Path:
    """Write `net`'s weights (floating tensors as `dtype`; half precision keeps the shipped files
    small) and its architecture (`net.config()`) to a weights file, atomically. Loading converts
    back to the network's precision."""
    tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in net.state_dict().items()}
    info = {"config": net.config(), **({"metrics": metrics} if metrics is not None else {})}
    return save_weights(path, tensors, format=FORMAT, **info)


def _legacy(meta: dict[str, str]) -> dict[str, Any]:
    """Files written before the common weights-file format (the shipped ones): the architecture
    and metrics as JSON strings, each its own metadata entry."""
    if "config" not in meta:
        raise CheckpointError("expected a synthface network file with a 'config' entry, found none")
    try:
        return {k: json.loads(meta[k]) for k in ("config", "metrics") if k in meta}
    except ValueError as exc:
        raise CheckpointError(f"damaged synthface network config ({type(exc).__name__}: {exc})") from None


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """The architecture stored in a weights file written by `save_net`."""
    if not Path(path).is_file():
        raise CheckpointError(f"weights file not found: {path}")
    config = read_info(path, FORMAT, what="a synthface network file", legacy=_legacy)["config"]
    try:
        _check_bounds(config, str(path))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path}: damaged synthface network config ({type(exc).__name__}: {exc})") from None
    return config


def _check_bounds(config: dict[str, Any], source: str) -> None:
    """Sizes within sane ranges, so a crafted file cannot ask for a network of terabytes."""
    for key in ("dim", "identity_dim", "expression_dim"):
        if key in config:
            check_int(f"config.{key}", config[key], 1, MAX_WIDTH, source=source)
    backbone = config["backbone"]
    if "input_size" in backbone:
        check_resolution("config.backbone.input_size", backbone["input_size"], source=source)
    if "hidden" in backbone:
        check_int("config.backbone.hidden", backbone["hidden"], 1, MAX_WIDTH, source=source)
    widths = backbone.get("widths", [])
    check_int("config.backbone.widths (count)", len(widths), 1, MAX_DEPTH, source=source)
    for width in widths:
        check_int("config.backbone.widths", width, 1, MAX_WIDTH, source=source)


def load_net(net: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load weights written by `save_net` into `net`, after checking the stored architecture equals
    `net`'s; returns `net` in eval mode."""
    stored = read_config(path)
    expected = json.loads(json.dumps(net.config()))  # tuples become lists, as in the file
    if stored != expected:
        keys = sorted(k for k in set(stored) | set(expected) if stored.get(k) != expected.get(k))
        raise CheckpointError(
            f"{path}: architecture differs from the network it is loaded into: "
            + "; ".join(f"{k}: file has {stored.get(k)!r}, network has {expected.get(k)!r}" for k in keys)
        )
    load_checked(net, read_tensors(path, "synthface network weights"), source=str(path), what=type(net).__name__)
    return net.eval()


def build_embedder(checkpoint: str | os.PathLike | None = None, **options: Any) -> SynthFaceEmbedder:
    """The synthface identity embedder with the shipped weights (or those in `checkpoint`), frozen."""
    path = Path(checkpoint) if checkpoint is not None else shipped_weights(EMBEDDER_FILE)
    cfg = read_config(path)
    _no_options("synthface-id", options)

    def make() -> SynthFaceEmbedder:
        return SynthFaceEmbedder(
            dim=cfg["dim"], backbone=BackboneConfig(**cfg["backbone"]), mirror=cfg.get("mirror", False)
        )

    check_size(make, what="synthface identity embedder", source=str(path))
    return load_net(make(), path).requires_grad_(False)


def build_shape_model(checkpoint: str | os.PathLike | None = None, **options: Any) -> SynthFaceShapeModel:
    """The synthface 3DMM regressor with the shipped weights (or those in `checkpoint`), frozen."""
    path = Path(checkpoint) if checkpoint is not None else shipped_weights(REGRESSOR_FILE)
    cfg = read_config(path)
    _no_options("synthface-3dmm", options)

    def make() -> SynthFaceShapeModel:
        return SynthFaceShapeModel(
            identity_dim=cfg["identity_dim"],
            expression_dim=cfg["expression_dim"],
            backbone=BackboneConfig(**cfg["backbone"]),
        )

    check_size(make, what="synthface 3DMM regressor", source=str(path))
    return load_net(make(), path).requires_grad_(False)


def _no_options(name: str, options: dict[str, Any]) -> None:
    if options:
        raise LswError(f"{name}: expected no options besides checkpoint, got {sorted(options)}")
