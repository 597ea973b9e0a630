"""Reading photos (orientation, grayscale, alpha, corrupt and tiny files), crop geometry, paste-back
and the pivot cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from lsw_core.errors import ImageError
from lsw_core.photo import (
    AlignedFace,
    PasteConfig,
    PivotCache,
    apply_affine,
    face_mask,
    image_hash,
    invert_affine,
    load_photo,
    paste_back,
    quad_to_affine,
    warp_to_aligned,
)


def gradient_photo(w=120, h=90):
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([xs * 255 // w, ys * 255 // h, (xs + ys) % 256], axis=-1).astype(np.uint8)


def test_grayscale_rgba_and_exif_orientation(tmp_path):
    photo = gradient_photo()
    Image.fromarray(photo[..., 0]).save(tmp_path / "gray.png")
    gray = load_photo(tmp_path / "gray.png")
    assert gray.shape == (90, 120, 3) and (gray[..., 0] == gray[..., 2]).all()

    rgba = np.concatenate([photo, np.full((90, 120, 1), 255, np.uint8)], axis=-1)
    rgba[:10, :10, 3] = 0  # transparent corner → white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    loaded = load_photo(tmp_path / "rgba.png")
    assert (loaded[:10, :10] == 255).all() and (loaded[20:, 20:] == photo[20:, 20:]).all()

    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    Image.fromarray(photo).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    upright = load_photo(tmp_path / "rotated.jpg")
    assert upright.shape == (120, 90, 3)


def test_corrupt_tiny_and_missing_files_get_clear_errors(tmp_path):
    Image.fromarray(gradient_photo()).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "text.png").write_text("hello")
    Image.fromarray(gradient_photo(20, 16)).save(tmp_path / "tiny.png")
    with pytest.raises(ImageError, match="not a readable image"):
        load_photo(tmp_path / "text.png")
    with pytest.raises(ImageError, match="truncated.jpg"):
        load_photo(tmp_path / "truncated.jpg")
    with pytest.raises(ImageError, match="too small"):
        load_photo(tmp_path / "tiny.png")
    with pytest.raises(ImageError, match="no such file"):
        load_photo(tmp_path / "absent.png")


@settings(max_examples=30, deadline=None)
@given(
    cx=st.floats(30, 90),
    cy=st.floats(30, 60),
    half=st.floats(8, 40),
    angle=st.floats(-0.6, 0.6),
    res=st.sampled_from([16, 32]),
)
def test_quad_affine_maps_corners_and_inverts(cx, cy, half, angle, res):
    x = half * np.array([np.cos(angle), np.sin(angle)])
    y = np.array([-x[1], x[0]])
    c = np.array([cx, cy])
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    m = quad_to_affine(quad, res)
    assert np.allclose(apply_affine(m, quad), [[0, 0], [0, res], [res, res], [res, 0]], atol=1e-6)
    pts = np.random.default_rng(0).uniform(0, 100, (5, 2))
    assert np.allclose(apply_affine(invert_affine(m), apply_affine(m, pts)), pts, atol=1e-6)


def square_face(photo, x0, y0, size, res):
    quad = np.array([[x0, y0], [x0, y0 + size], [x0 + size, y0 + size], [x0 + size, y0]], dtype=float)
    m = quad_to_affine(quad, res)
    return AlignedFace(warp_to_aligned(photo, m, res), m, (photo.shape[1], photo.shape[0]))


def test_axis_aligned_crop_is_the_photo_region():
    photo = gradient_photo()
    face = square_face(photo, 40, 20, 32, 32)
    assert np.abs(face.image.astype(int) - photo[20:52, 40:72].astype(int)).max() <= 1


def test_crop_beyond_the_border_is_filled_without_error():
    photo = gradient_photo()
    face = square_face(photo, -30, -30, 80, 32)
    assert face.image.shape == (32, 32, 3)


@settings(max_examples=15, deadline=None)
@given(x0=st.integers(-20, 100), y0=st.integers(-20, 70), size=st.integers(12, 60), feather=st.floats(0.02, 0.3))
def test_paste_back_changes_only_pixels_under_the_mask(x0, y0, size, feather):
    photo = gradient_photo()
    face = square_face(photo, x0, y0, size, 32)
    swap = np.zeros_like(face.image)
    out = paste_back(photo, swap, face, config=PasteConfig(feather=feather))
    ys, xs = np.mgrid[0:90, 0:120]
    inside = (xs + 0.5 > x0) & (xs + 0.5 < x0 + size) & (ys + 0.5 > y0) & (ys + 0.5 < y0 + size)
    assert (out[~inside] == photo[~inside]).all()
    # the centre of the crop is fully replaced when it is in the photo
    cx, cy = x0 + size // 2, y0 + size // 2
    if 0 <= cx < 120 and 0 <= cy < 90 and size >= 16 and feather < 0.25:
        assert (out[cy, cx] <= 2).all()


def test_paste_back_with_an_occluder_mask_keeps_the_occluder():
    photo = gradient_photo()
    face = square_face(photo, 40, 20, 32, 32)
    occluder = np.ones((32, 32), np.float32)
    occluder[:, :16] = 0  # left half of the crop is, say, a hand
    out = paste_back(photo, np.zeros_like(face.image), face, mask=occluder, config=PasteConfig(feather=0.05))
    assert (out[:, :56] == photo[:, :56]).all()
    assert (out[36, 64] == 0).all()


def test_face_mask_kinds():
    crop = face_mask(64, kind="crop", feather=0.1)
    assert crop[0].max() == 0 and crop[32, 32] == 1
    lm = np.random.default_rng(0).uniform(20, 44, (68, 2))
    face = face_mask(64, kind="face", landmarks=lm)
    assert 0 < face.sum() < crop.sum()
    with pytest.raises(ImageError):
        face_mask(64, kind="face")


def test_pivot_cache_round_trip(tmp_path):
    cache = PivotCache(tmp_path / "cache")
    img = gradient_photo(32, 32)
    key = cache.key(img, "gen", "cfg")
    assert key != cache.key(img, "gen", "other cfg") and key == cache.key(img.copy(), "gen", "cfg")
    assert cache.get(key) is None
    cache.put(key, {"ws": torch.ones(1, 6, 16)}, {"psnr": 31.0})
    assert torch.equal(cache.get(key)["ws"], torch.ones(1, 6, 16))
    (tmp_path / "cache" / f"{key}.safetensors").write_bytes(b"damaged")
    assert cache.get(key) is None
    assert image_hash(img) != image_hash(img[::-1].copy())
