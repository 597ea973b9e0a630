"""Group photos, swap strength and paste-back blending, on the tiny generator of `test_photo_swap`
through the real `lsw swap` where a user would use them: every face or only the reference's person is
swapped; strength 0 gives back the target's reconstruction; colour matching, multi-band blending, the
occlusion mask and grayscale targets do what they promise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import lsw_core.plugins
from lsw_core.errors import LswError
from lsw_core.geometry import warp_to_aligned
from lsw_core.interfaces import Aligner, IdentityEmbedder
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo import (
    AlignedFace,
    PasteConfig,
    PhotoSwapper,
    PivotCache,
    from_tensor,
    laplacian_blend,
    load_photo,
    occlusion_mask,
    paste_back,
    quad_to_affine,
)
from lsw_core.photo.blend import rgb_to_lab
from lsw_core.plugins import hookimpl, load_aligner, load_inverter
from tests.conftest import untrained_mixer
from tests.tiny import TinyGenerator

from .test_photo_swap import FAST_PTI, _lsw, _pti_options

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the `test` extra")
pytest.importorskip("dlib", reason="dlib is in the `faces` extra")


class SkinTone(IdentityEmbedder):
    """The centre's colour minus its grey level: tells a face from its colour-swapped (blue) copy."""

    dim = 3

    def _embed(self, images):
        r = images.shape[-1]
        centre = images[:, :, r // 3 : 2 * r // 3, r // 3 : 2 * r // 3].mean(dim=(2, 3))
        return centre - centre.mean(dim=1, keepdim=True)


class PlacedFace(Aligner):
    """The face is the square [16, 80)² of a 96² photo (where the tests put one)."""

    def _align(self, image, resolution, face_index):
        quad = np.array([[16, 16], [16, 80], [80, 80], [80, 16]], dtype=np.float64)
        to_aligned = quad_to_affine(quad, resolution)
        return AlignedFace(warp_to_aligned(image, to_aligned, resolution), to_aligned, image.shape[1::-1])


class ControlsPlugin:
    @hookimpl
    def register_aligners(self, register):
        register("placed-face", lambda **_: PlacedFace(), description="test aligner")

    @hookimpl
    def register_generators(self, register):
        register("tiny-controls", lambda checkpoint=None, **_: TinyGenerator().eval(), description="test generator")

    @hookimpl
    def register_identity_embedders(self, register):
        register("skin-tone", lambda checkpoint=None, **_: SkinTone(), description="test embedder")


@pytest.fixture(scope="module")
def mixer_dir(tmp_path_factory):
    """A tiny mixer whose training embedder is `skin-tone` (the default for --reference-face)."""
    yield from untrained_mixer(tmp_path_factory.mktemp("mixer"), ControlsPlugin(), "tiny-controls", TinyGenerator(),
                               components={"embedder": "skin-tone"})  # fmt: skip


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The astronaut (source and reference); a group photo of her and a half-size copy with red and
    blue swapped (two faces, two "identities" for `skin-tone`); the blue copy alone; a green one that
    is like neither; no face."""
    folder = tmp_path_factory.mktemp("photos")
    astronaut = skimage_data.astronaut()
    Image.fromarray(astronaut).save(folder / "a.png")
    blue = np.ascontiguousarray(astronaut[::2, ::2, ::-1])
    group = np.full((512, 768, 3), 128, np.uint8)
    group[:, :512] = astronaut
    group[100:356, 512:768] = blue
    Image.fromarray(group).save(folder / "group.png")
    Image.fromarray(np.pad(blue, ((64, 64), (64, 64), (0, 0)), constant_values=128)).save(folder / "blue.png")
    Image.fromarray(np.ascontiguousarray(astronaut[..., [1, 0, 2]])).save(folder / "green.png")  # like neither
    Image.fromarray(skimage_data.coffee()).save(folder / "coffee.png")
    return folder


def _changed_faces(photos, out):
    """Which of the group photo's two faces (left: the astronaut, right: the blue copy) changed."""
    before = load_photo(photos / "group.png").astype(int)
    after = load_photo(out).astype(int)
    changed = np.abs(after - before).max(axis=-1) > 0
    return bool(changed[:, :512].any()), bool(changed[:, 512:].any())


def _swap(mixer_dir, photos, tmp_path, *args):
    out = tmp_path / "out.png"
    res = _lsw("swap", str(photos / "a.png"), str(photos / "group.png"), "--mixer", str(mixer_dir), "--cache-dir",
               str(tmp_path.parent / "controls-cache"), "-o", str(out), "--overwrite", *_pti_options(), *args)  # fmt: skip
    assert res.exit_code == 0, res.output
    return out, res.output


def test_target_face_all_swaps_every_face_and_an_index_one(mixer_dir, photos, tmp_path):
    out, log = _swap(mixer_dir, photos, tmp_path, "--target-face", "all")
    assert _changed_faces(photos, out) == (True, True)
    assert "swapped face(s) [0, 1] of 2" in log
    assert Image.open(tmp_path / "out_face1_aligned.png").size == (32, 32)
    out, _ = _swap(mixer_dir, photos, tmp_path, "--target-face", "1")
    assert _changed_faces(photos, out) == (False, True)


@pytest.mark.parametrize("reference, changed", [("a.png", (True, False)), ("blue.png", (False, True))])
def test_reference_face_swaps_only_that_persons_faces(mixer_dir, photos, tmp_path, reference, changed):
    out, log = _swap(mixer_dir, photos, tmp_path, "--reference-face", str(photos / reference))
    assert _changed_faces(photos, out) == changed
    assert "similarity" in log


def test_reference_without_a_match_or_a_face_is_one_error_line(mixer_dir, photos, tmp_path):
    for args, message in [(["--reference-face", str(photos / "coffee.png")], "coffee.png: no face found"),
                          (["--reference-face", str(photos / "green.png"), "--reference-threshold", "0.5"],
                           "no face matches the reference"),
                          (["--reference-face", str(photos / "a.png"), "--target-face", "0"], "leave out --target-face")]:  # fmt: skip
        res = _lsw("swap", str(photos / "a.png"), str(photos / "group.png"), "--mixer", str(mixer_dir), "--no-cache",
                   "-o", str(tmp_path / "o.png"), *args, *_pti_options())  # fmt: skip
        lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
        assert res.exit_code == 2 and len(lines) == 1 and message in lines[0], res.output
    assert not (tmp_path / "o.png").exists()


def test_dlib_identity_finds_the_same_person_at_half_size_and_mirrored(photos):
    from lsw_core.photo.group import faces_to_swap, identity_similarity
    from lsw_core.plugins import load_identity_embedder

    aligner = load_aligner("dlib-ffhq")
    group = load_photo(photos / "group.png").copy()
    group[100:356, 512:768] = group[100:356, 512:768, ::-1]  # the small copy in her own colours again
    group[:, :512] = group[:, 511::-1]  # and the large one mirrored
    faces = aligner.align_all(group, 256)
    reference = aligner.align(load_photo(photos / "a.png"), 256)
    similarity = identity_similarity(load_identity_embedder("dlib-resnet"), [f.image for f in faces], reference.image)
    assert [f.face_index for f in faces] == [0, 1] and faces[0].box[0] < 512 <= faces[1].box[0]
    assert similarity.min() > 0.95
    assert len(faces_to_swap(2, None, similarity)) == 1 and faces_to_swap(2, None, similarity, 0.95) == [0, 1]


def test_reference_face_with_a_real_embedder_picks_that_person(mixer_dir, tmp_path):
    """Two people of the synthetic world side by side (renders dlib detects): the reference's is swapped."""
    G = lsw_core.plugins.load_generator("synthface").eval()

    def person(seed, size):
        with torch.no_grad():
            z = torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(seed))
            img = from_tensor(G.synthesis(G.mapping(z, truncation_psi=0.7), noise_mode="const"))
        return np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.LANCZOS))

    group = np.full((256, 448, 3), 128, np.uint8)
    group[:, :256], group[32:224, 256:448] = person(1, 256), person(2, 192)
    Image.fromarray(group).save(tmp_path / "two.png")
    Image.fromarray(person(2, 256)).save(tmp_path / "ref.png")
    Image.fromarray(person(4, 256)).save(tmp_path / "src.png")
    out = tmp_path / "out.png"
    res = _lsw("swap", str(tmp_path / "src.png"), str(tmp_path / "two.png"), "--mixer", str(mixer_dir), "--no-cache",
               "-o", str(out), "--reference-face", str(tmp_path / "ref.png"), "--embedder", "synthface-id",
               *_pti_options())  # fmt: skip
    assert res.exit_code == 0, res.output
    changed = np.abs(load_photo(out).astype(int) - group).max(axis=-1) > 0
    assert not changed[:, :256].any() and changed[:, 256:].any()
    assert "swapped face(s) [1] of 2" in res.output


def test_strength_zero_gives_back_the_target_reconstruction(mixer_dir, tmp_path):
    swapper = Swapper.from_folder(mixer_dir)
    G = swapper.generator
    ws = G.mapping(torch.randn(2, 16, generator=torch.Generator().manual_seed(1)))
    assert torch.equal(swapper.swap(ws[:1], ws[1:], strength=0).images, swapper.render(ws[1:]))
    full = swapper.swap(ws[:1], ws[1:])
    assert torch.equal(swapper.swap(ws[:1], ws[1:], strength=1).ws, full.ws)
    assert torch.allclose(swapper.swap(ws[:1], ws[1:], strength=0.25).ws, ws[1:] + 0.25 * (full.ws - ws[1:]))
    with torch.no_grad():
        crops = [from_tensor(G.synthesis(ws[i : i + 1])) for i in range(2)]
    photo_swapper = PhotoSwapper(swapper, load_inverter("pti", **FAST_PTI), cache=PivotCache(tmp_path))
    result = photo_swapper.swap(crops[0], crops[1], strength=0)
    pivots, hits = photo_swapper.inversion.project(crops)
    assert hits == [True, True] and torch.equal(result.ws, pivots.ws[1:].cpu())
    with torch.no_grad():
        own = from_tensor(result.generator.synthesis(result.ws, noise_mode="const"))
    assert np.array_equal(result.aligned, own)
    assert not np.array_equal(photo_swapper.swap(crops[0], crops[1]).aligned, own)


def test_cli_strength_on_latents(mixer_dir, tmp_path):
    res = _lsw("swap", "seed:1", "seed:2", "--mixer", str(mixer_dir), "--strength", "0", "--save-latents", "-o",
               str(tmp_path / "s.png"))  # fmt: skip
    assert res.exit_code == 0, res.output
    swapper = Swapper.from_folder(mixer_dir)
    target = swapper.wplus_from_z(swapper.latents_from_seeds([2]))
    assert np.array_equal(np.load(tmp_path / "s.npy"), target.numpy())
    res = _lsw(
        "swap", "seed:1", "seed:2", "--mixer", str(mixer_dir), "--strength", "1.5", "-o", str(tmp_path / "x.png")
    )
    assert res.exit_code == 2 and "1.5 is not in the range" in res.output


# --- paste-back blending, on a face placed in a photo at a known place (crop pixel = photo pixel) -----


def _placed_face(r=64, offset=(40, 24)):
    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(120, 30, (160, 160, 3)), 0, 255).astype(np.uint8)
    x0, y0 = offset
    quad = np.array([[x0, y0], [x0, y0 + r], [x0 + r, y0 + r], [x0 + r, y0]], dtype=np.float64)
    face = AlignedFace(photo[y0 : y0 + r, x0 : x0 + r].copy(), quad_to_affine(quad, r), (160, 160))
    return photo, face


def test_colour_match_moves_the_pasted_region_towards_the_targets_colours():
    photo, face = _placed_face()
    swap = np.clip(face.image.astype(int) * [0.7, 1.0, 1.3] + [40, 0, -20], 0, 255).astype(np.uint8)
    region = (slice(24 + 16, 24 + 48), slice(40 + 16, 40 + 48))  # the crop's centre, fully pasted

    def lab_stats(img):
        lab = rgb_to_lab(img[region]).reshape(-1, 3)
        return lab.mean(0), lab.std(0)

    target_mean, target_std = lab_stats(photo)
    for method in ("lab", "histogram"):
        plain_mean, plain_std = lab_stats(paste_back(photo, swap, face))
        mean, std = lab_stats(paste_back(photo, swap, face, config=PasteConfig(color_match=method)))
        assert np.linalg.norm(mean - target_mean) < 0.3 * np.linalg.norm(plain_mean - target_mean)
        assert np.abs(std - target_std).sum() < np.abs(plain_std - target_std).sum()


def test_multiband_blend_leaves_pixels_outside_the_mask_unchanged():
    photo, face = _placed_face()
    swap = np.full_like(face.image, 250)
    mask = np.ones((64, 64), np.float32)
    mask[:, :32] = 0  # the crop's left half is not pasted
    out = paste_back(photo, swap, face, mask=mask, config=PasteConfig(blend="multiband"))
    outside = np.ones(photo.shape[:2], bool)
    outside[24 : 24 + 64, 40 + 32 : 40 + 64] = False
    assert np.array_equal(out[outside], photo[outside])
    centre = (slice(24 + 24, 24 + 40), slice(40 + 42, 40 + 54))
    moved = np.abs(out[centre].astype(int) - 250).mean() / np.abs(photo[centre].astype(int) - 250).mean()
    assert moved < 0.2  # inside the mask: the swap, with some of the photo's broad shading
    same = laplacian_blend(photo.astype(np.float32), photo.astype(np.float32), np.eye(160, dtype=np.float32))
    assert np.abs(same - photo).max() < 1e-3  # blending an image with itself changes nothing


def test_occlusion_mask_keeps_a_block_painted_after_inversion():
    G = TinyGenerator().eval()
    with torch.no_grad():
        target = from_tensor(G.synthesis(G.mapping(torch.randn(1, 16, generator=torch.Generator().manual_seed(2)))))
    rng = np.random.default_rng(1)
    reconstruction = np.clip(target + rng.normal(0, 4, target.shape), 0, 255).astype(np.uint8)
    painted = target.copy()
    painted[8:18, 10:22] = (20, 200, 40)  # a microphone in front of the face, after the inversion
    kept = occlusion_mask(painted, reconstruction)
    assert kept[9:17, 11:21].max() < 0.05 and kept[24:, :].min() > 0.95 and kept[:, 26:].min() > 0.95


def test_cli_occlusion_mask_keeps_an_occluder_in_the_photo(mixer_dir, tmp_path):
    """A face the generator can draw, at twice its size in a photo (found there by `placed-face`),
    with a block painted over it: the swap pastes around the block only with --occlusion-mask."""
    G = TinyGenerator().eval()
    with torch.no_grad():
        source, face = (
            from_tensor(G.synthesis(G.mapping(torch.randn(1, 16, generator=torch.Generator().manual_seed(s)))))
            for s in (1, 2)
        )
    Image.fromarray(source).save(tmp_path / "source.png")  # an aligned crop
    photo = np.full((96, 96, 3), 128, np.uint8)
    photo[16:80, 16:80] = face.repeat(2, axis=0).repeat(2, axis=1)
    photo[52:68, 36:56] = (20, 200, 40)
    Image.fromarray(photo).save(tmp_path / "occluded.png")
    pti = dict(perceptual="pixel-ssim", projection_steps=100, projection_lr=0.02, projection_init="search",
               tuning_steps=20)  # fmt: skip
    options = [x for k, v in pti.items() for x in ("--inverter-option", f"{k}={v}")]
    outs = {}
    for name, extra in (("plain", []), ("mask", ["--occlusion-mask"])):
        outs[name] = tmp_path / f"{name}.png"
        res = _lsw("swap", str(tmp_path / "source.png"), str(tmp_path / "occluded.png"), "--mixer", str(mixer_dir), "-o",
                   str(outs[name]), "--aligner", "placed-face", "--cache-dir", str(tmp_path / "cache"),
                   *options, *extra)  # fmt: skip
        assert res.exit_code == 0, res.output
    block = (slice(54, 66), slice(38, 54))
    kept = np.abs(load_photo(outs["mask"])[block].astype(int) - photo[block]).max(axis=-1)
    replaced = np.abs(load_photo(outs["plain"])[block].astype(int) - photo[block]).max(axis=-1)
    assert (kept <= 2).all() and (replaced > 20).mean() > 0.5
    around = np.abs(load_photo(outs["mask"])[24:44, 24:72].astype(int) - photo[24:44, 24:72]).max(axis=-1)
    assert (around > 0).mean() > 0.5  # the rest of the face is still swapped


def test_grayscale_target_gives_a_grayscale_result(mixer_dir, photos, tmp_path):
    Image.open(photos / "a.png").convert("L").save(tmp_path / "gray.png")
    for extra in ([], ["--color-match", "lab", "--blend", "multiband"]):
        res = _lsw("swap", str(photos / "a.png"), str(tmp_path / "gray.png"), "--mixer", str(mixer_dir), "-o",
                   str(tmp_path / "g.png"), "--overwrite", "--cache-dir", str(tmp_path / "cache"), *_pti_options(),
                   *extra)  # fmt: skip
        assert res.exit_code == 0, res.output
        for name in ("g.png", "g_aligned.png"):
            out = load_photo(tmp_path / name)
            assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2]), extra
        assert not np.array_equal(load_photo(tmp_path / "g.png"), load_photo(tmp_path / "gray.png"))


def test_an_aligner_that_cannot_list_faces_says_so(mixer_dir, photos, tmp_path):
    with pytest.raises(LswError, match="PlacedFace aligns one face at a time"):
        PlacedFace().align_all(np.zeros((96, 96, 3), np.uint8), 32)
    res = _lsw("swap", str(photos / "a.png"), str(photos / "group.png"), "--mixer", str(mixer_dir), "--aligner",
               "placed-face", "--target-face", "all", "-o", str(tmp_path / "o.png"), *_pti_options())  # fmt: skip
    assert res.exit_code == 2 and "cannot list a photo's faces" in res.output
