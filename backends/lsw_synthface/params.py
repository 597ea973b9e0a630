"""A batch of faces of the synthetic world: `FaceParams`, the parameters the renderer draws and the
oracle compares (`world` decodes them from the prior's factors)."""

from __future__ import annotations

import attrs
import torch


@attrs.define
class FaceParams:
    """One batch of faces; every field is a tensor with leading batch dimension B.

    identity [B, IDENTITY_DIM] (N(0, 1) prior), expression [B, EXPRESSION_DIM] (about [-1, 1]),
    pose [B, 3] yaw/pitch/roll in degrees, skin/hair/eyes [B, 3] RGB in [0, 1] (eyes: the iris),
    hair_shape [B, 3] (volume in [-1, 1], length and fringe in [0, 1]), background/background2 [B, 3]
    RGB of the two pattern colours, pattern [B, 4] (angle in radians, frequency in cycles per image,
    phase in radians, checker weight in [0, 1]), light [B, 3] unit direction towards the light
    (x right, y up, z to the viewer), glasses [B, 1] opacity in [0, 1].
    """

    identity: torch.Tensor
    expression: torch.Tensor
    pose: torch.Tensor
    skin: torch.Tensor
    hair: torch.Tensor
    hair_shape: torch.Tensor
    eyes: torch.Tensor
    background: torch.Tensor
    background2: torch.Tensor
    pattern: torch.Tensor
    light: torch.Tensor
    glasses: torch.Tensor

    def __len__(self) -> int:
        return self.identity.shape[0]

    def map(self, fn) -> FaceParams:
        """A new FaceParams with `fn` applied to every field (e.g. `.map(lambda t: t[:4])`)."""
        return FaceParams(**{k: fn(v) for k, v in attrs.asdict(self, recurse=False).items()})

    def replace(self, **fields: torch.Tensor) -> FaceParams:
        return attrs.evolve(self, **fields)

    def to(self, *args, **kwargs) -> FaceParams:
        return self.map(lambda t: t.to(*args, **kwargs))

    def appearance(self) -> torch.Tensor:
        """What a swap must keep of its target besides expression and pose, [B, 22]: skin, hair,
        eye and background colours (RGB in [0, 1]), glasses opacity, hair shape and the direction
        of the light."""
        parts = (self.skin, self.hair, self.eyes, self.background, self.background2, self.glasses)
        return torch.cat([*parts, self.hair_shape, self.light], dim=1)

    @classmethod
    def cat(cls, items: list[FaceParams]) -> FaceParams:
        names = attrs.fields_dict(cls)
        return cls(**{k: torch.cat([getattr(p, k) for p in items]) for k in names})
