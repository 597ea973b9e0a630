"""dlib detection + FFHQ alignment on a real photo shipped by scikit-image (the astronaut Eileen
Collins), and the errors for photos without the requested face."""

from __future__ import annotations

import numpy as np
import pytest

from lsw_core.errors import ImageError
from lsw_core.photo import paste_back

dlib = pytest.importorskip("dlib", reason="dlib is in the `faces` extra")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the `test` extra")


@pytest.fixture(scope="module")
def aligner():
    from lsw_core.plugins import load

    return load("aligner", "dlib-ffhq")


@pytest.fixture(scope="module")
def astronaut():
    return skimage_data.astronaut()


def test_astronaut_crop_is_an_ffhq_crop(aligner, astronaut):
    face = aligner.align(astronaut, 128)
    assert face.image.shape == (128, 128, 3)
    lm = face.aligned_landmarks
    eye_l, eye_r = lm[36:42].mean(0), lm[42:48].mean(0)
    mouth = (lm[48] + lm[54]) / 2
    # FFHQ geometry: level eyes in the upper middle, mouth below, face centred horizontally
    assert abs(eye_l[1] - eye_r[1]) < 2
    assert 0.4 < eye_l[1] / 128 < 0.55 and 0.65 < mouth[1] / 128 < 0.8
    assert abs((eye_l[0] + eye_r[0]) / 2 - 64) < 4 and 0.2 < (eye_r[0] - eye_l[0]) / 128 < 0.35
    # the crop is the face: its centre is skin-coloured (red > blue), not the grey background
    centre = face.image[56:72, 56:72].reshape(-1, 3).mean(0)
    assert centre[0] > centre[2] + 20


def test_paste_back_of_the_aligned_crop_reproduces_the_photo(aligner, astronaut):
    face = aligner.align(astronaut, 128)
    out = paste_back(astronaut, face.image, face)
    x0, y0, x1, y1 = face.box
    err = np.abs(out[y0:y1, x0:x1].astype(int) - astronaut[y0:y1, x0:x1].astype(int)).mean()
    assert err < 12  # resampling to 128² and back loses detail, not placement
    assert out.shape == astronaut.shape


def test_choosing_among_several_faces(aligner, astronaut):
    small = astronaut[::2, ::2]
    group = np.full((512, 768, 3), 128, np.uint8)
    group[:, :512] = astronaut
    group[100:356, 512:768] = small
    assert aligner.count(group) == 2
    big, little = aligner.align(group, 64), aligner.align(group, 64, face_index=1)
    assert big.box[0] < 512 <= little.box[0]
    with pytest.raises(ImageError, match="face 2 requested, but 2 face"):
        aligner.align(group, 64, face_index=2)


def test_photo_without_a_face_is_a_clear_error(aligner):
    scenery = skimage_data.coffee()
    with pytest.raises(ImageError, match="no face found"):
        aligner.align(scenery, 64)


def test_grayscale_and_tiny_photos(aligner, astronaut):
    gray = np.repeat(astronaut.mean(-1, keepdims=True).astype(np.uint8), 3, axis=-1)
    assert aligner.align(gray, 64).image.shape == (64, 64, 3)
    tiny = np.ascontiguousarray(astronaut[::8, ::8])  # 64², the face about 12 px wide
    with pytest.raises(ImageError, match="no face found"):
        aligner.align(tiny, 64)
