"""Photos in, photos out, above the latent-only `lsw_core.mixing.Swapper`: the aligned crop of a face
(`faces`), paste-back (`paste`) and its blending (`blend`), face selection in group photos (`group`),
the photo swapper (`swapper`) and what `lsw edit` needs of a swap (`record`); for clips, video I/O
with PyAV (`video_io`) and the clip swapper (`video`). Photo files themselves are `lsw_core.images`'."""

from lsw_core._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "lsw_core.photo.blend": ["laplacian_blend", "match_colors", "occlusion_mask"],
        "lsw_core.photo.faces": ["PreparedFace", "prepare_all_faces", "prepare_face"],
        "lsw_core.photo.paste": ["PasteConfig", "face_mask", "paste_back"],
        "lsw_core.photo.swapper": [
            "GroupSwapResult",
            "PhotoSwapResult",
            "PhotoSwapper",
            "check_pairs",
            "write_group_result",
            "write_result",
        ],
        "lsw_core.photo.video": ["VideoSwapper", "VideoSwapSummary"],
        # Kept here for one release; they live in lsw_core.images, lsw_core.geometry and lsw_core.inversion.
        "lsw_core.images": [
            "MAX_PHOTO_PIXELS",
            "MIN_PHOTO_SIZE",
            "from_tensor",
            "image_hash",
            "load_photo",
            "photo_from_pil",
            "probe_photo",
            "save_photo",
            "to_tensor",
        ],
        "lsw_core.geometry": ["AlignedFace", "apply_affine", "invert_affine", "quad_to_affine", "warp_to_aligned"],
        "lsw_core.inversion.cache": ["PivotCache"],
    },
)
