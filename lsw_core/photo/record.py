"""What editing a photo swap needs beyond its W+ code, so that `lsw edit` renders an edit as the swap
was rendered: the generator refined on the pair (as its weight difference from the original), the
target's camera and synthesis arguments, and for a target photo the photo and the face geometry to
paste the edited face back. One weights file (`lsw_core.formats.artifacts`) beside the code: `OUT.npy` →
`OUT.swap.safetensors`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from lsw_core.camera import Camera
from lsw_core.errors import CheckpointError, LswError
from lsw_core.formats.artifacts import fingerprint, read_weights, save_weights
from lsw_core.geometry import AlignedFace
from lsw_core.images import from_tensor
from lsw_core.interfaces import Generator
from lsw_core.inversion.pti import apply_delta, parameter_delta
from lsw_core.photo.paste import PasteConfig, paste_back
from lsw_core.photo.swapper import PhotoSwapResult

FORMAT = "lsw-photo-swap"


def record_path(latents: str | os.PathLike) -> Path:
    """Where the record of the latents file `latents` (OUT.npy) lies: OUT.swap.safetensors."""
    return Path(latents).with_suffix(".swap.safetensors")


def save_swap_record(
    path: str | os.PathLike, result: PhotoSwapResult, original: Generator, *, paste: PasteConfig = PasteConfig()
) -> Path:
    """Write the record of a photo swap made with `original` (the swapper's generator) and pasted back
    as `paste` says. As large as the weights the refinement changed: none for a projector, the whole
    generator for PTI."""
    if result.generator is None:
        raise LswError("swap record: the result does not say which generator it was synthesised with")
    tensors = {f"delta.{k}": v for k, v in parameter_delta(original, result.generator).items()}
    if result.camera is not None:
        cam = result.camera
        tensors["camera"] = torch.stack([cam.azimuth, cam.polar, cam.fov, cam.radius], dim=1)
    tensors.update({f"synthesis.{k}": v for k, v in result.synthesis_kwargs.items()})
    info: dict[str, Any] = {"backend": original.backend_name, "generator_fingerprint": fingerprint(original),
                            **paste.record()}  # fmt: skip
    target = result.target
    if target is not None and target.face is not None:
        face = target.face
        tensors["photo"] = torch.tensor(np.asarray(target.photo))
        tensors["crop"] = torch.tensor(np.asarray(face.image))
        if face.landmarks is not None:
            tensors["landmarks"] = torch.from_numpy(np.asarray(face.landmarks, dtype=np.float64))
        info["face"] = {"to_aligned": face.to_aligned.tolist(), "photo_size": list(face.photo_size),
                        "box": list(face.box) if face.box is not None else None, "face_index": face.face_index}  # fmt: skip
    return save_weights(path, tensors, format=FORMAT, **info)


@attrs.define
class SwapRecord:
    """A photo swap's rendering context: the refined generator, the target's camera and synthesis
    arguments, and (for a target photo) the photo and its face to paste into."""

    generator: Generator
    camera: Camera | None
    synthesis_kwargs: dict[str, torch.Tensor]
    photo: np.ndarray | None
    face: AlignedFace | None
    paste: PasteConfig = PasteConfig()

    @torch.no_grad()
    def render(self, ws: torch.Tensor) -> np.ndarray:
        """The photo (or, for an aligned-crop target, the crop) with W+ code ws [1, num_ws, w_dim]
        synthesised by the refined generator at the target's view: RGB uint8 [H, W, 3]."""
        G = self.generator
        camera = self.camera.to(ws.device) if self.camera is not None else None
        kwargs = {k: v.to(ws.device) for k, v in self.synthesis_kwargs.items()}
        aligned = from_tensor(G.synthesis(ws, camera=camera, noise_mode="const", **kwargs))
        if self.face is None:
            return aligned
        return paste_back(self.photo, aligned, self.face, config=self.paste)


def load_swap_record(path: str | os.PathLike, original: Generator) -> SwapRecord:
    """Read a record written by `save_swap_record` for the weights of `original`."""
    tensors, info = read_weights(path, FORMAT, what="a photo swap record")
    expected = info.get("generator_fingerprint")
    if expected != fingerprint(original):
        raise CheckpointError(
            f"{path}: recorded for generator {info.get('backend')!r} with weights {expected}, not for these "
            f"({original.backend_name!r}, weights {fingerprint(original)}); pass the swap's --checkpoint"
        )
    delta = {k[len("delta.") :]: v for k, v in tensors.items() if k.startswith("delta.")}
    device = original.device
    generator = apply_delta(original, delta).eval() if delta else original
    camera = None
    if "camera" in tensors:
        cam = tensors["camera"].to(device)
        camera = Camera(cam[:, 0], cam[:, 1], cam[:, 2], cam[:, 3])
    kwargs = {k[len("synthesis.") :]: v.to(device) for k, v in tensors.items() if k.startswith("synthesis.")}
    photo = face = None
    if "face" in info:
        geometry = info["face"]
        photo = tensors["photo"].numpy()
        landmarks = tensors["landmarks"].numpy() if "landmarks" in tensors else None
        face = AlignedFace(tensors["crop"].numpy(), np.asarray(geometry["to_aligned"]), tuple(geometry["photo_size"]),
                           landmarks=landmarks, box=tuple(geometry["box"]) if geometry["box"] else None,
                           face_index=geometry["face_index"])  # fmt: skip
    return SwapRecord(generator, camera, kwargs, photo, face, PasteConfig.from_record(info))
