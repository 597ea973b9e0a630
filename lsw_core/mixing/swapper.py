"""Swapper: apply a trained mixer to latent codes and render the result.

l_swap = F(l_s, l_t); with `groups`, the swapped code is used only on the named layer groups and the
target code elsewhere (the paper's layer-wise analysis, Fig. 10); a `strength` α < 1 moves only part
of the way from the target's code: l = l_t + α (l_swap − l_t), α = 0 being the target itself. Camera-aware generators render
one image per camera. The swapper works on latents only: photos are aligned and inverted by
`lsw_core.PhotoSwapper`, which mixes their pivots here (`swap_inversion`) and synthesises with
the generator the inversion returns (the tuned one, for PTI).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import attrs
import torch

from lsw_core.camera import Camera
from lsw_core.checks import check_latents, check_z
from lsw_core.errors import CheckpointError, LswError, ShapeError
from lsw_core.formats.artifacts import CONFIG_NAME
from lsw_core.interfaces import Generator, Inversion
from lsw_core.mixing import latents
from lsw_core.mixing.mixer import LatentMixer, read_mixer_config
from lsw_core.plugins import load_generator
from lsw_core.validators import check, integer, number, optional, options


@attrs.define
class SwapResult:
    """Swapped W+ codes [B, num_ws, w_dim] and their images: [B, 3, H, W] for a 2D generator or one
    camera, [B, V, 3, H, W] for V cameras."""

    ws: torch.Tensor
    images: torch.Tensor
    generator: Generator


class Swapper:
    """A trained mixer bound to the generator it was trained for."""

    def __init__(
        self,
        generator: Generator,
        mixer: LatentMixer,
        *,
        space: str = "w+",
        truncation_psi: float = latents.TRAINING_TRUNCATION_PSI,
        truncation_cutoff: int | None = latents.TRAINING_TRUNCATION_CUTOFF,
        trained_for: str | None = None,
    ) -> None:
        rows, width = latents.mixer_shape(generator, space)
        if (mixer.num_rows, mixer.w_dim) != (rows, width):
            raise CheckpointError(
                f"the mixer was trained for latent layout {mixer.num_rows}x{mixer.w_dim} "
                f"({space.upper()} of {trained_for or 'another generator'}); "
                f"generator {generator.backend_name or type(generator).__name__!r} needs {rows}x{width} in {space.upper()}"
            )
        self.generator = generator.eval().requires_grad_(False)
        self.mixer = mixer.eval().requires_grad_(False)
        self.space = space
        self.truncation_psi = truncation_psi
        self.truncation_cutoff = truncation_cutoff

    @classmethod
    def from_folder(
        cls,
        folder: str | os.PathLike,
        generator: Generator | None = None,
        *,
        backend: str | None = None,
        **generator_options: Any,
    ) -> Swapper:
        """Load a mixer folder written by `MixerTrainer` and the generator it names (unless given).

        The generator is built with the options the mixer was trained with (e.g. its checkpoint),
        updated by `generator_options`; with another `backend` than the trained one, with those
        options alone."""
        config = read_mixer_config(folder)
        mixer = LatentMixer.from_pretrained(folder)
        training = _sampling_settings(config, folder)
        if generator is None:
            trained = backend is None or backend == config["backend"]
            saved = training.get("generator_options", {}) if trained else {}
            options = {**saved, **generator_options}
            if trained and "generator_checkpoint" in config and options.get("checkpoint") is None:
                options["checkpoint"] = os.path.join(folder, config["generator_checkpoint"])  # stored beside it
            generator = load_generator(backend or config["backend"], **options)
        elif generator_options:
            raise LswError(f"from_folder: generator options {sorted(generator_options)} apply only without a generator")
        layout = config["latent_layout"]
        if (layout["num_ws"], layout["w_dim"]) != (generator.num_ws, generator.w_dim):
            raise CheckpointError(
                f"{folder}: mixer trained for latent layout {layout['num_ws']}x{layout['w_dim']} "
                f"({config['backend']}); generator {generator.backend_name!r} has layout {generator.latent_layout}"
            )
        # Settings left to the generator (not resolved when the file was written) take its defaults.
        defaults = generator.training_defaults
        psi = training.get("truncation_psi", latents.TRAINING_TRUNCATION_PSI)
        psi = defaults.truncation_psi if psi is None else psi
        cutoff = training.get("truncation_cutoff", latents.TRAINING_TRUNCATION_CUTOFF)
        cutoff = defaults.truncation_cutoff if cutoff == "generator" else cutoff
        return cls(
            generator,
            mixer,
            space=config["latent_space"],
            truncation_psi=psi,
            truncation_cutoff=cutoff,
            trained_for=config["backend"],
        )

    @property
    def device(self) -> torch.device:
        return next(self.mixer.parameters()).device

    def to(self, device: str | torch.device) -> Swapper:
        """Move the mixer and the generator to `device` (in place); returns self."""
        self.mixer.to(device)
        self.generator.to(device)
        return self

    # --- latents -----------------------------------------------------------------------------

    def latents_from_seeds(self, seeds: Sequence[int]) -> torch.Tensor:
        """z [len(seeds), z_dim], one N(0, I) draw per seed (integers from 0 to 2⁶⁴ − 1)."""
        return torch.stack(
            [
                torch.randn(self.generator.z_dim, generator=torch.Generator().manual_seed(s))
                for s in latents.check_seeds(seeds)
            ]
        )

    def wplus_from_z(self, z: torch.Tensor) -> torch.Tensor:
        """The W+ code of z as the mixer saw codes in training (ψ, cutoff of the training run)."""
        z = check_z("z", z, self.generator.z_dim).to(self.device)
        code = latents.encode(self.generator, z, self.space, self.truncation_psi, self.truncation_cutoff)
        return latents.decode(self.generator, code, self.space, self.truncation_psi, self.truncation_cutoff)

    @torch.no_grad()
    def mix(
        self,
        source_ws: torch.Tensor,
        target_ws: torch.Tensor,
        groups: Sequence[str] | None = None,
        *,
        strength: float = 1.0,
    ) -> torch.Tensor:
        """W+ codes of sources and targets [B, num_ws, w_dim] → swapped W+ codes, `strength` of the
        way from the target's (see `toward_swap`)."""
        check_strength(strength)
        G = self.generator
        source_ws = check_latents("source W+ codes", source_ws, G.num_ws, G.w_dim).to(self.device)
        target_ws = check_latents("target W+ codes", target_ws, G.num_ws, G.w_dim).to(self.device)
        if len(source_ws) != len(target_ws):
            raise ShapeError(f"swap: {len(source_ws)} source codes but {len(target_ws)} target codes")
        code = self.mixer(latents.from_wplus(source_ws, self.space), latents.from_wplus(target_ws, self.space))
        ws = latents.decode(self.generator, code, self.space, self.truncation_psi, self.truncation_cutoff)
        return toward_swap(target_ws, self.restrict_to_groups(ws, target_ws, groups), strength)

    @torch.no_grad()
    def mix_z(
        self,
        z_source: torch.Tensor,
        z_target: torch.Tensor,
        groups: Sequence[str] | None = None,
        *,
        strength: float = 1.0,
    ) -> torch.Tensor:
        """Sampled z of sources and targets → swapped W+ codes (the only way to swap in Z space),
        `strength` of the way from the target's W+ code."""
        check_strength(strength)
        G, psi, cutoff = self.generator, self.truncation_psi, self.truncation_cutoff
        z_source, z_target = check_z("source z", z_source, G.z_dim), check_z("target z", z_target, G.z_dim)
        c_s = latents.encode(G, z_source.to(self.device), self.space, psi, cutoff)
        c_t = latents.encode(G, z_target.to(self.device), self.space, psi, cutoff)
        ws = latents.decode(G, self.mixer(c_s, c_t), self.space, psi, cutoff)
        ws_t = latents.decode(G, c_t, self.space, psi, cutoff)
        return toward_swap(ws_t, self.restrict_to_groups(ws, ws_t, groups), strength)

    def restrict_to_groups(
        self, ws_swap: torch.Tensor, ws_target: torch.Tensor, groups: Sequence[str] | None
    ) -> torch.Tensor:
        """Keep the swapped code only on the rows of `groups`; the target's elsewhere."""
        if groups is None:
            return ws_swap
        keep = torch.zeros(self.generator.num_ws, dtype=torch.bool, device=ws_swap.device)
        keep[group_rows(self.generator, groups)] = True
        return torch.where(keep[None, :, None], ws_swap, ws_target)

    # --- images ------------------------------------------------------------------------------

    @torch.no_grad()
    def render(
        self,
        ws: torch.Tensor,
        cameras: Camera | None = None,
        generator: Generator | None = None,
        **synthesis_kwargs: Any,
    ) -> torch.Tensor:
        """Synthesise W+ codes: [B, 3, H, W], or [B, V, 3, H, W] for a batch of V cameras (every code
        seen from every camera, with the same synthesis arguments, e.g. a background code)."""
        G = generator or self.generator
        ws = ws.to(G.w_avg.device)
        if cameras is None:
            return G.synthesis(ws, noise_mode="const", **synthesis_kwargs)
        if G.camera is None:
            raise LswError(f"generator {G.backend_name!r} is 2D: it renders no camera views")
        views = [
            G.synthesis(ws, camera=cameras[v], noise_mode="const", **synthesis_kwargs) for v in range(len(cameras))
        ]
        return torch.stack(views, dim=1)

    def swap(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        *,
        groups: Sequence[str] | None = None,
        strength: float = 1.0,
        cameras: Camera | None = None,
        generator: Generator | None = None,
        **synthesis_kwargs: Any,
    ) -> SwapResult:
        """Swap the identity of W+ codes `source` onto `target` [B, num_ws, w_dim]: mix them (`strength`
        α in [0, 1] of the way from the target's code to the swap: 0 renders the target, 1, the
        default, the full swap) and render with `generator` (e.g. a PTI-tuned one) if given, from
        every one of `cameras` if given.
        Extra `synthesis_kwargs` are those of the targets (a 3D-aware swap keeps the target's
        background). Numpy float arrays shaped like W+ codes are codes. Photos:
        `lsw_core.PhotoSwapper`."""
        G = self.generator
        if latents.is_latent_array(source, G.num_ws, G.w_dim):
            source = latents.as_wplus(source, G.num_ws, G.w_dim, name="source W+ codes")
        if latents.is_latent_array(target, G.num_ws, G.w_dim):
            target = latents.as_wplus(target, G.num_ws, G.w_dim, name="target W+ codes")
        if not (torch.is_tensor(source) and torch.is_tensor(target)):
            raise LswError("swap: expected two W+ code tensors; swap photos or face crops with lsw_core.PhotoSwapper")
        ws = self.mix(source, target, groups, strength=strength)
        return SwapResult(ws, self.render(ws, cameras, generator, **synthesis_kwargs), generator or self.generator)

    def swap_inversion(
        self,
        inversion: Inversion,
        num_sources: int,
        *,
        groups: Sequence[str] | None = None,
        strength: float = 1.0,
        cameras: Camera | None = None,
    ) -> SwapResult:
        """Swap the pivots of an inversion of sources followed by their targets (the first
        `num_sources` images are the sources). The swap keeps each target's synthesis arguments and
        camera and is synthesised with the inversion's generator; `cameras` renders other views.
        `strength` 0 gives back each target's reconstruction exactly."""
        sources, targets = inversion[:num_sources], inversion[num_sources:]
        ws = self.mix(sources.ws, targets.ws, groups, strength=strength)
        G = inversion.generator
        if cameras is not None:
            return SwapResult(ws, self.render(ws, cameras, G, **targets.synthesis_kwargs), G)
        camera = targets.camera if isinstance(targets.camera, Camera) else None
        with torch.no_grad():
            images = G.synthesis(ws, camera=camera, noise_mode="const", **targets.synthesis_kwargs)
        return SwapResult(ws, images, G)


def check_strength(strength: float) -> None:
    check("strength", strength, number(ge=0, le=1))


def toward_swap(target_ws: torch.Tensor, swapped_ws: torch.Tensor, strength: float) -> torch.Tensor:
    """l_t + α (l_swap − l_t): exactly the target's code at α = 0 and the swap's at α = 1."""
    if strength == 1:
        return swapped_ws
    return target_ws + strength * (swapped_ws - target_ws)


def group_rows(generator: Generator, groups: Sequence[str]) -> list[int]:
    """The W+ rows of the named layer groups; an unknown group, or one with no rows on this
    generator, is an error."""
    if isinstance(groups, str):  # one group by name, not a sequence of letters
        groups = [groups]
    known = generator.layer_groups
    unknown = [g for g in groups if g not in known]
    if unknown:
        raise LswError(f"unknown layer group(s) {unknown}; this generator has {list(known)}")
    empty = [g for g in groups if len(known[g]) == 0]
    if empty:
        present = [g for g, rows in known.items() if len(rows)]
        raise LswError(f"layer group(s) {empty} have no rows on this generator; it has {present}")
    return [r for g in groups for r in known[g]]


#: The training settings a swap reuses: how the mixer's latents were sampled and rendered.
_SAMPLING = {
    "generator_options": options(),
    "truncation_psi": optional(number()),
    "truncation_cutoff": lambda i, a, v: None if v in (None, "generator") else integer(ge=0)(i, a, v),
}


def _sampling_settings(config: dict[str, Any], folder: str | os.PathLike) -> dict[str, Any]:
    """The sampling settings a mixer folder's `training` section records (checked), or {}."""
    training = config.get("training", {})
    for name, validator in _SAMPLING.items():
        if name in training:
            try:
                check(name, training[name], validator)
            except LswError as exc:
                raise CheckpointError(f"{os.path.join(folder, CONFIG_NAME)}: training.{exc}") from None
    return training
