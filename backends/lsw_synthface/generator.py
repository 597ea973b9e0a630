"""Generator backends over the synthetic face world, shaped like StyleGAN2 and StyleNeRF.

Mapping: z [B, 512] → a fixed 8-layer leaky-ReLU MLP whose weights were drawn from a seeded
generator → w [B, 512], truncated towards `w_avg` as in StyleGAN2, copied to every W+ row. The
weights, `w_avg` and the read-outs below are shipped exact (`lsw_synthface.constants`), so the world
is the same on every CPU; `compute_constants` made them (`python -m lsw_synthface.regenerate`).

Synthesis: each layer group (coarse, middle, fine1, fine2) owns some of the world's standard-normal
factors (`GROUP_FACTORS`). A factor is read out of the *mean* of its group's rows by a fixed linear
projection onto one of the leading principal directions of w, centred at `w_avg` and divided by the
spread of w along it, so every factor is about N(0, 1) under the prior; `world.decode` turns factors
into face parameters, which are rendered. As in StyleGAN, where the leading principal directions of
W steer pose and face shape (GANSpace), the factors take the directions in which w varies most,
coarse first, and what w does along the other ~470 directions renders nothing. Identity shape is
split as in StyleGAN: the face-structure coefficients (width, length, jaw, forehead) in the coarse
rows with pose and glasses, the feature coefficients (eyes, brows, nose, mouth, chin) in the middle
rows together with expression; colours and light in fine1; background only in fine2.

The read-outs are linear: moving a factor by one prior standard deviation moves the group's rows by
its spread along one direction, which is what the mixer's latent penalty charges for. The mapping
ends in a fixed linear stretch that makes w vary `APPEARANCE_STRETCH` times more along the glasses,
hair, colour and light directions, so that a swap pays more to change those than identity; the
output gain `W_SCALE` sets the overall price. Moving all 16 identity coefficients by one standard
deviation costs a per-element W+ MSE of ≈2.3e-4 (λ·L_lp ≈ 0.02 at the paper's λ = 100).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import attrs
import torch
from torch import nn

from lsw_core.camera import Camera, CameraSpec
from lsw_core.errors import CheckpointError, LswError
from lsw_core.interfaces import Generator, TrainingDefaults
from lsw_synthface import constants, world
from lsw_synthface.world import FACTORS, FaceParams

#: Identity coefficients split between coarse rows (face structure) and middle rows (features).
COARSE_IDENTITY = 4
#: (group, factor, slice of that factor) read out of each group.
GROUP_FACTORS: dict[str, list[tuple[str, slice]]] = {
    "coarse": [("pose", slice(None)), ("identity", slice(0, COARSE_IDENTITY)), ("glasses", slice(None)),
               ("hair_shape", slice(None))],
    "middle": [("identity", slice(COARSE_IDENTITY, None)), ("expression", slice(None))],
    "fine1": [("skin", slice(None)), ("hair", slice(None)), ("eyes", slice(None)), ("light", slice(None))],
    "fine2": [("background", slice(None)), ("background2", slice(None)), ("pattern", slice(None))],
}  # fmt: skip
RESOLUTIONS = (64, 96, 128, 256)
W_SCALE = 0.09  # output gain of the mapping network: sets what moving a factor costs under L_lp
#: The factors a swap takes from its source (identity) or keeps from its target by looking
#: (expression, pose). w varies `APPEARANCE_STRETCH` times more along the directions of all the
#: others (glasses, hair, colours, light, background), so changing those costs a mixer's latent
#: penalty that much more (squared) per prior standard deviation.
FACE_FACTORS = ("identity", "expression", "pose")
APPEARANCE_STRETCH = 5.0
MAPPING_LAYERS = 8


def _factor_sizes(group: str) -> list[int]:
    return [len(range(FACTORS[name])[part]) for name, part in GROUP_FACTORS[group]]


class MappingNetwork(nn.Module):
    """z → w: second-moment normalisation, then fully connected leaky-ReLU layers with the given
    weights [out, in] and biases [out] (frozen buffers; `draw` makes them)."""

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor]]):
        super().__init__()
        for i, (weight, bias) in enumerate(layers):
            self.register_buffer(f"weight{i}", weight.clone())
            self.register_buffer(f"bias{i}", bias.clone())
        self.num_layers = len(layers)

    @staticmethod
    def draw(
        seed: int, *, z_dim: int = 512, w_dim: int = 512, num_layers: int = MAPPING_LAYERS
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Weights N(0, 1/in) and biases N(0, 0.01) of `num_layers` layers, drawn from `seed`."""
        gen = torch.Generator().manual_seed(seed)
        dims = [z_dim] + [w_dim] * num_layers
        return [
            (torch.randn(fan_out, fan_in, generator=gen) / math.sqrt(fan_in), 0.1 * torch.randn(fan_out, generator=gen))
            for fan_in, fan_out in zip(dims[:-1], dims[1:])
        ]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        gain = math.sqrt(2)  # keeps unit second moment through leaky ReLU
        for i in range(self.num_layers):
            x = nn.functional.leaky_relu(x @ getattr(self, f"weight{i}").T + getattr(self, f"bias{i}"), 0.2) * gain
        return x * W_SCALE


def _factor_names() -> list[str]:
    """The factor name of every read-out column, group by group."""
    return [name for g in GROUP_FACTORS for (name, _), n in zip(GROUP_FACTORS[g], _factor_sizes(g)) for _ in range(n)]


def compute_constants(seed: int, samples: int = 4096) -> dict[str, torch.Tensor]:
    """The generators' constants as computed here (the shipped seed's are loaded from
    `lsw_synthface.constants` instead, identical on every CPU): the mapping network's weights
    `mapping.weight{i}`, `mapping.bias{i}`, then `w_avg` [512], the read-out directions [512, K],
    the stretch [512, 512] that ends the mapping and the spread [K] of the mapped w along each
    direction.

    The directions are the leading principal directions of the MLP's output, handed out in the
    order of `GROUP_FACTORS` (coarse first), so the world's factors vary along the directions in
    which w varies most, as StyleGAN's principal directions steer pose, face shape and then finer
    attributes (GANSpace). The stretch then scales w about `w_avg` by `APPEARANCE_STRETCH` along
    the directions of the appearance factors. What w does along the remaining directions renders
    nothing."""
    layers = MappingNetwork.draw(seed)
    mapping = MappingNetwork(layers)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        w = mapping(torch.randn(samples, 512, generator=gen)).double()
    w_avg = w.mean(0)
    names = _factor_names()
    _, _, vh = torch.linalg.svd(w - w_avg, full_matrices=False)
    directions = vh[: len(names)].T
    directions = directions * directions.sum(0).sign()  # a fixed sign for each direction
    gain = torch.tensor([1.0 if n in FACE_FACTORS else APPEARANCE_STRETCH for n in names], dtype=w.dtype)
    stretch = torch.eye(512, dtype=w.dtype) + directions @ torch.diag(gain - 1) @ directions.T
    spread = ((w - w_avg) @ directions).std(0) * gain
    weights = {f"mapping.{kind}{i}": t for i, layer in enumerate(layers) for kind, t in zip(("weight", "bias"), layer)}
    statistics = {"w_avg": w_avg, "directions": directions, "stretch": stretch, "spread": spread}
    return {**weights, **{k: v.float() for k, v in statistics.items()}}


def generator_constants(seed: int) -> dict[str, torch.Tensor]:
    """The generators' constants for mapping seed `seed`: the shipped ones for
    `constants.SHIPPED_SEED`, another seed's computed here (exact only on the same CPU and libraries)."""
    return constants.shipped() if seed == constants.SHIPPED_SEED else _computed(seed)


@functools.lru_cache(maxsize=4)
def _computed(seed: int) -> dict[str, torch.Tensor]:
    return compute_constants(seed)


class SynthFaceGenerator(Generator):
    """The synthetic face world behind the `Generator` interface (see the module docstring).

    `num_ws` 18 (2D, like StyleGAN2 at 1024 px) or 21 with a camera (like StyleNeRF); `params(ws)`
    gives the face parameters any W+ code renders, which the oracle metrics compare."""

    #: The paper's truncation, and the world's own identity embedder and 3DMM regressor for L_id
    #: and L_shape.
    training_defaults = TrainingDefaults(embedder="synthface-id", shape_model="synthface-3dmm")

    def __init__(self, *, resolution: int = 128, seed: int = 0, camera: CameraSpec | None = None, pose_scale=1.0):
        super().__init__()
        if resolution not in RESOLUTIONS:
            raise LswError(f"synthface resolution: expected one of {RESOLUTIONS}, got {resolution}")
        self.z_dim, self.w_dim, self.resolution, self.camera = 512, 512, resolution, camera
        self.num_ws = 18 if camera is None else 21
        self.seed, self.pose_scale = seed, pose_scale
        values = generator_constants(seed)
        layers = [(values[f"mapping.weight{i}"], values[f"mapping.bias{i}"]) for i in range(MAPPING_LAYERS)]
        self.mapping_network = MappingNetwork(layers)
        for name in ("w_avg", "directions", "stretch", "spread"):
            self.register_buffer(name, values[name].clone())
        self.requires_grad_(False)

    @property
    def layer_groups(self) -> dict[str, range]:
        """coarse 0–3, middle 4–7, fine1 8–11, fine2 the rest (12–17, or 12–20 with a camera)."""
        return {"coarse": range(0, 4), "middle": range(4, 8), "fine1": range(8, 12), "fine2": range(12, self.num_ws)}

    def _mapping(self, z: torch.Tensor, *, truncation_psi: float, truncation_cutoff: int | None) -> torch.Tensor:
        w = self.w_avg + (self.mapping_network(z) - self.w_avg) @ self.stretch
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            rows = slice(None) if truncation_cutoff is None else slice(0, truncation_cutoff)
            ws[:, rows] = self.w_avg + truncation_psi * (ws[:, rows] - self.w_avg)
        return ws

    def factors(self, ws: torch.Tensor) -> dict[str, torch.Tensor]:
        """W+ codes [B, num_ws, 512] → the world's standard-normal factors, read out group by group."""
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in FACTORS}
        start = 0
        for group in GROUP_FACTORS:
            rows = self.layer_groups[group]
            sizes = _factor_sizes(group)
            cols = slice(start, start + sum(sizes))
            start = cols.stop
            u = (ws[:, rows].mean(1) - self.w_avg) @ self.directions[:, cols] / self.spread[cols]
            for (name, _), chunk in zip(GROUP_FACTORS[group], u.split(sizes, dim=1)):
                parts[name].append(chunk)
        return {name: torch.cat(chunks, 1) for name, chunks in parts.items()}

    def params(self, ws: torch.Tensor) -> FaceParams:
        """The face parameters W+ codes [B, num_ws, 512] render (camera-independent ground truth)."""
        p = world.decode(self.factors(ws))
        return p if self.pose_scale == 1 else p.replace(pose=p.pose * self.pose_scale)

    def ground_truth(self, ws: torch.Tensor) -> dict[str, torch.Tensor]:
        """`params(ws)` as a dict of tensors (identity, expression, pose in degrees, appearance and
        each appearance field), the form generic evaluation code reads ground truth in."""
        p = self.params(ws)
        return {**attrs.asdict(p, recurse=False), "appearance": p.appearance()}

    def _synthesis(self, ws: torch.Tensor, *, camera: Any, noise_mode: str, **kwargs: Any) -> torch.Tensor:
        if kwargs:
            raise LswError(f"synthface synthesis takes no extra arguments, got {sorted(kwargs)}")
        if camera is not None and not isinstance(camera, Camera):
            raise LswError(f"camera: expected a lsw_core.Camera, got {type(camera).__name__}")
        images = world.render(self.params(ws), self.resolution, camera)
        if noise_mode == "random":
            images = (images + 0.02 * torch.randn_like(images)).clamp(-1, 1)
        return images


def synthface(checkpoint: Any = None, *, resolution: int = 128, seed: int = 0) -> SynthFaceGenerator:
    """The 2D backend: 18×512 W+, StyleGAN2's layer groups, no camera."""
    _no_checkpoint(checkpoint)
    return SynthFaceGenerator(resolution=resolution, seed=seed)


#: The 3D-aware backend's camera prior: yaw ±30°, pitch ±15°, StyleNeRF's conventions.
CAMERA_3D = CameraSpec(azimuth_range=(-30.0, 30.0), polar_range=(75.0, 105.0), fov=12.0, radius=1.0)


def synthface3d(checkpoint: Any = None, *, resolution: int = 128, seed: int = 0) -> SynthFaceGenerator:
    """The 3D-aware backend: 21×512 W+ and a camera; the head's own pose is a quarter of the 2D
    backend's, the camera supplies the view."""
    _no_checkpoint(checkpoint)
    return SynthFaceGenerator(resolution=resolution, seed=seed, camera=CAMERA_3D, pose_scale=0.25)


def _no_checkpoint(checkpoint: Any) -> None:
    if checkpoint is not None:
        raise CheckpointError(
            f"synthface generators are defined in code and take no checkpoint, got {str(checkpoint)!r}"
        )
