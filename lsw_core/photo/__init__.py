"""Photos in, photos out, above the latent-only `lsw_core.swapper.Swapper`: photo I/O (`io`), the
aligned crop and its geometry (`geometry`), paste-back (`paste`) and its blending (`blend`), the
pivot cache (`cache`), face selection in group photos (`group`) and the photo swapper (`swapper`);
for clips, video I/O with PyAV (`video_io`) and the clip swapper (`video.VideoSwapper`)."""

from lsw_core.photo.blend import laplacian_blend, match_colors, occlusion_mask
from lsw_core.photo.cache import PivotCache
from lsw_core.photo.geometry import (
    AlignedFace,
    apply_affine,
    invert_affine,
    quad_to_affine,
    warp_to_aligned,
)
from lsw_core.photo.io import (
    MAX_PHOTO_PIXELS,
    MIN_PHOTO_SIZE,
    from_tensor,
    image_hash,
    load_photo,
    photo_from_pil,
    probe_photo,
    save_photo,
    to_tensor,
)
from lsw_core.photo.paste import face_mask, paste_back
from lsw_core.photo.swapper import (
    GroupSwapResult,
    PhotoSwapper,
    PhotoSwapResult,
    PreparedFace,
    check_pairs,
    write_group_result,
    write_result,
)

__all__ = [
    "MAX_PHOTO_PIXELS",
    "MIN_PHOTO_SIZE",
    "AlignedFace",
    "GroupSwapResult",
    "PhotoSwapResult",
    "PhotoSwapper",
    "PivotCache",
    "PreparedFace",
    "apply_affine",
    "check_pairs",
    "face_mask",
    "from_tensor",
    "image_hash",
    "invert_affine",
    "laplacian_blend",
    "load_photo",
    "match_colors",
    "occlusion_mask",
    "paste_back",
    "photo_from_pil",
    "probe_photo",
    "quad_to_affine",
    "save_photo",
    "to_tensor",
    "warp_to_aligned",
    "write_group_result",
    "write_result",
]
