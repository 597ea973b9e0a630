"""The `sface` identity embedder: unit embeddings, gradients into the images, same person closer than
different people, the fixed FFHQ crop's geometry, and one-line errors for wrong inputs."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lsw_core
from lsw_core.errors import CheckpointError, SettingError, ShapeError
from lsw_core.geometry import apply_affine
from lsw_sface.alignment import ARCFACE_TEMPLATE, ffhq_similarity, fit_similarity, five_points, warp

from .conftest import MIRROR_68, to_images

# ---------------------------------------------------------------------------------------------
# Geometry (no weights needed)


def test_similarity_fit_recovers_a_known_map():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([4.0, -2.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    fitted = fit_similarity(src, src @ rot.T + shift)
    assert np.allclose(fitted, np.concatenate([rot, shift[:, None]], axis=1), atol=1e-9)


@pytest.mark.parametrize("height, width", [(1024, 1024), (256, 256), (160, 200)])
def test_fixed_ffhq_crop_puts_marked_points_on_the_template(height, width):
    """Gaussian spots drawn where `ffhq_similarity` says the five points are; after `warp` (with its
    box prefilter at 1024 px) their centroids sit on the template to a tenth of a crop pixel."""
    matrix = ffhq_similarity(height, width)
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    points = apply_affine(inverse, ARCFACE_TEMPLATE)  # image pixels
    sigma = 1.5 * max(height, width) / 112  # 1.5 crop pixels
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    image = sum(torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)) for x, y in points)
    crop = warp(image[None, None].double(), matrix)[0, 0]
    cys, cxs = torch.meshgrid(torch.arange(112) + 0.5, torch.arange(112) + 0.5, indexing="ij")
    for x, y in ARCFACE_TEMPLATE:
        weight = crop * (((cxs - x) ** 2 + (cys - y) ** 2) < 6**2)
        centroid = np.array([(weight * cxs).sum() / weight.sum(), (weight * cys).sum() / weight.sum()])
        assert np.abs(centroid - (x, y)).max() < 0.1, (x, y, centroid)


def test_fixed_ffhq_crop_puts_detected_eyes_on_the_template(rendered, dlib_detector):
    """On rendered FFHQ-aligned faces, dlib's eye centres and mouth corners go through the fixed crop
    to within a few crop pixels of ArcFace's template (README: 1.6 px mean over 96 faces)."""
    errors = []
    for face in rendered:
        points = five_points(dlib_detector.detect(face)[0].landmarks)
        errors.append(np.linalg.norm(apply_affine(ffhq_similarity(*face.shape[:2]), points) - ARCFACE_TEMPLATE, axis=1))
    errors = np.array(errors)
    assert errors[:, :2].max() < 4.5 and errors[:, :2].mean() < 3.0  # eyes
    assert errors[:, 3:].max() < 9.0  # mouth corners move with the expression


# ---------------------------------------------------------------------------------------------
# The embedder


def test_registered_as_a_plugin(sface):
    embedder = lsw_core.load_identity_embedder("sface", crop="arcface")
    assert type(embedder) is type(sface) and embedder.dim == 128 and embedder.crop == "arcface"


@settings(max_examples=6, deadline=None)
@given(batch=st.integers(1, 3), height=st.integers(24, 300), width=st.integers(24, 300), seed=st.integers(0, 2**16))
def test_unit_embeddings_for_any_image_size(sface, batch, height, width, seed):
    images = torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    with torch.no_grad():
        emb = sface(images)
    assert emb.shape == (batch, 128) and torch.isfinite(emb).all()
    assert torch.allclose(emb.norm(dim=1), torch.ones(batch), atol=1e-5)


def test_arcface_crop_setting_reads_aligned_crops(sface):
    crops = torch.rand(2, 3, 112, 112) * 2 - 1
    aligned = lsw_core.load_identity_embedder("sface", crop="arcface")
    with torch.no_grad():
        expected = torch.nn.functional.normalize(sface.descriptor((crops.flip(1) + 1) * 127.5), dim=1)
        assert torch.allclose(aligned(crops), expected, atol=1e-5)


def test_gradients_flow_into_the_images(sface):
    images = (torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 2 - 1).requires_grad_(True)
    emb = sface(images)
    (emb[0] @ emb[1]).backward()
    assert images.grad is not None and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in sface.parameters())

    landmarks = np.tile(np.array([[40.0, 50], [88, 50], [64, 72], [45, 95], [83, 95]]), (2, 1, 1))
    images.grad = None
    emb = sface.embed_with_landmarks(images, landmarks)
    (emb[0] @ emb[1]).backward()
    assert images.grad.abs().sum() > 0


def test_gradient_matches_finite_differences(sface):
    """d⟨e(x), e(y)⟩/dx along a random direction, autograd against central differences, in float64."""
    import copy

    embedder = copy.deepcopy(sface).double()
    g = torch.Generator().manual_seed(1)
    x, y, v = (torch.rand(1, 3, 96, 96, generator=g, dtype=torch.float64) * 2 - 1 for _ in range(3))
    target = embedder(y).detach()

    def f(t):
        return (embedder(t) * target).sum()

    x.requires_grad_(True)
    f(x).backward()
    eps = 1e-7  # PReLU's kinks make larger steps cross into other linear pieces
    with torch.no_grad():
        numeric = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    assert float((x.grad * v).sum()) == pytest.approx(float(numeric), rel=1e-3)


def test_same_person_closer_than_different_people(sface, rendered, astronaut_with_landmarks):
    """Groups of one person each: the astronaut (photo, mirror image, the photo at 70 %), aligned by
    her landmarks; each rendered face and its mirror image, by the fixed crop. Every same-person
    cosine is above every cross-person cosine, and above SFace's published 0.363 threshold."""
    photo, landmarks = astronaut_with_landmarks
    mirrored = landmarks.copy()
    mirrored[:, 0] = photo.shape[1] - mirrored[:, 0]
    small = torch.nn.functional.interpolate(to_images(photo[None]), scale_factor=0.7, mode="bilinear", antialias=True)
    with torch.no_grad():
        astro = torch.cat(
            [
                sface.embed_with_landmarks(
                    to_images(np.stack([photo, photo[:, ::-1]])), np.stack([landmarks, mirrored[MIRROR_68]])
                ),
                sface.embed_with_landmarks(small, landmarks[None] * 0.7),
            ]
        )
        images = to_images(rendered)
        groups = [astro] + list(torch.stack([sface(images), sface(images.flip(3))], dim=1))
    same = torch.cat([(grp @ grp.T)[torch.triu_indices(len(grp), len(grp), 1).unbind()] for grp in groups])
    cross = torch.cat([(a @ b.T).flatten() for i, a in enumerate(groups) for b in groups[i + 1 :]])
    assert same.min() > cross.max() and same.min() > 0.363, (same.min(), cross.max())


# ---------------------------------------------------------------------------------------------
# Bad input


def _bad_inputs(sface):
    good = torch.zeros(2, 3, 64, 64)
    return [
        (lambda: sface(torch.zeros(3, 64, 64)), ShapeError, "expected shape [B, 3, *, *]"),
        (lambda: sface(torch.zeros(2, 1, 64, 64)), ShapeError, "expected shape [B, 3, *, *]"),
        (lambda: sface(torch.zeros(2, 3, 64, 64, dtype=torch.uint8)), ShapeError, "float tensor"),
        (lambda: sface.descriptor(torch.zeros(1, 3, 100, 100)), ShapeError, "[B, 3, 112, 112]"),
        (lambda: sface.embed_with_landmarks(good, np.zeros((2, 67, 2))), ShapeError, "[2, 68, 2] or [2, 5, 2]"),
        (lambda: sface.embed_with_landmarks(good, np.zeros((1, 68, 2))), ShapeError, "[2, 68, 2] or [2, 5, 2]"),
        (lambda: sface.embed_with_landmarks(good, np.full((2, 5, 2), np.nan)), ShapeError, "finite"),
        (lambda: type(sface)(crop="tight"), SettingError, "expected one of ('ffhq', 'arcface')"),
        (lambda: type(sface)(checkpoint="/nonexistent/sface.onnx"), CheckpointError, "expected an existing file"),
    ]


def test_wrong_inputs_fail_with_one_line(sface):
    for call, error, match in _bad_inputs(sface):
        with pytest.raises(error) as info:
            call()
        assert match in str(info.value) and "\n" not in str(info.value), str(info.value)
