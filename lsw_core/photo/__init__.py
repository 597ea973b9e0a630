"""Photos in, photos out, above the latent-only `lsw_core.swapper.Swapper`."""

from lsw_core.photo.io import (
    AlignedFace,
    PivotCache,
    apply_affine,
    face_mask,
    from_tensor,
    generator_fingerprint,
    image_hash,
    invert_affine,
    load_photo,
    paste_back,
    photo_from_pil,
    quad_to_affine,
    save_photo,
    to_tensor,
    warp_to_aligned,
)
from lsw_core.photo.swapper import PhotoSwapper, PhotoSwapResult, PreparedFace, check_pairs, write_result

__all__ = [
    "AlignedFace",
    "PhotoSwapResult",
    "PhotoSwapper",
    "PivotCache",
    "PreparedFace",
    "apply_affine",
    "check_pairs",
    "face_mask",
    "from_tensor",
    "generator_fingerprint",
    "image_hash",
    "invert_affine",
    "load_photo",
    "paste_back",
    "photo_from_pil",
    "quad_to_affine",
    "save_photo",
    "to_tensor",
    "warp_to_aligned",
]
