"""The inputs of a photo or clip swap as aligned crops: a photo is loaded and the chosen face aligned
by an `Aligner`; an image that is already an aligned crop is taken as it is (resized to the
generator's resolution)."""

from __future__ import annotations

import os

import attrs
import numpy as np
from PIL import Image

from lsw_core.errors import ImageError, LswError
from lsw_core.geometry import AlignedFace
from lsw_core.images import load_photo
from lsw_core.interfaces import Aligner

Photo = str | os.PathLike | np.ndarray


@attrs.define
class PreparedFace:
    """An input ready for inversion: the aligned crop [R, R, 3], and for a photo the photo and the
    face's geometry (None for an input that was already an aligned crop)."""

    crop: np.ndarray
    photo: np.ndarray | None = None
    face: AlignedFace | None = None
    name: str = "image"


def _load(image: Photo) -> tuple[np.ndarray, str]:
    if isinstance(image, np.ndarray):
        return image, "image"
    return load_photo(image), str(image)


def prepare_face(
    image: Photo,
    resolution: int,
    aligner: Aligner | None,
    *,
    aligned: bool | None = None,
    face_index: int | None = None,
) -> PreparedFace:
    """Load and align one input for a generator of `resolution`. `aligned`: True for an aligned crop
    (resized to the resolution), False for a photo (detected and aligned), None to decide: a square
    image of the generator's resolution is taken as a crop, anything else as a photo."""
    photo, name = _load(image)
    r = resolution
    if aligned is None:
        aligned = photo.shape[0] == photo.shape[1] == r
    if aligned:
        crop = (
            photo
            if photo.shape[:2] == (r, r)
            else np.asarray(Image.fromarray(photo).resize((r, r), Image.Resampling.LANCZOS))
        )
        return PreparedFace(crop=crop, name=name)
    if aligner is None:
        raise LswError(
            f"{name}: a {photo.shape[1]}×{photo.shape[0]} photo needs an aligner (e.g. dlib-ffhq from "
            f"`lsw-core[faces]`), or pass an aligned {r}×{r} crop"
        )
    try:
        face = aligner.align(photo, r, face_index=face_index)
    except ImageError as exc:
        raise ImageError(f"{name}: {exc}") from None
    return PreparedFace(crop=face.image, photo=photo, face=face, name=name)


def prepare_all_faces(image: Photo, resolution: int, aligner: Aligner | None) -> list[PreparedFace]:
    """Every face of a photo, aligned (largest first; an empty list for none)."""
    photo, name = _load(image)
    if aligner is None:
        raise LswError(f"{name}: finding the faces of a photo needs an aligner (e.g. dlib-ffhq)")
    faces = aligner.align_all(photo, resolution)
    return [PreparedFace(crop=f.image, photo=photo, face=f, name=f"{name} face {f.face_index}") for f in faces]
