"""The photo pipeline end to end on a tiny generator registered through a throwaway plugin: photos are
aligned, swapped and pasted back at the target photo's size; aligned crops are swapped as they are;
pivots come from the cache the second time; `lsw swap` handles pairs, folders and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import lsw_core.plugins
from lsw_core.errors import LswError
from lsw_core.mixing.mixer import LatentMixer
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo import PhotoSwapper, PivotCache, load_photo
from lsw_core.plugins import hookimpl, load_aligner, load_inverter
from tests.tiny import TinyGenerator

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the `test` extra")
pytest.importorskip("dlib", reason="dlib is in the `faces` extra")

FAST_PTI = dict(schedule="fast", perceptual="pixel-ssim", projection_steps=4, tuning_steps=3, projection_w_avg_samples=64,
                projection_init_candidates=4)  # fmt: skip


class TinyPlugin:
    @hookimpl
    def register_generators(self, register):
        register("tiny-photo", lambda checkpoint=None, **_: TinyGenerator().eval(), description="test generator")


@pytest.fixture(scope="module")
def tiny_registered():
    pm = lsw_core.plugins.plugin_manager()
    plugin = TinyPlugin()
    pm.register(plugin, name="tiny-photo-test")
    yield
    pm.unregister(plugin)


@pytest.fixture(scope="module")
def mixer_dir(tmp_path_factory, tiny_registered):
    folder = tmp_path_factory.mktemp("mixer")
    G = TinyGenerator()
    mixer = LatentMixer(num_rows=G.num_ws, w_dim=G.w_dim)
    mixer.save_pretrained(folder, backend="tiny-photo", layout=G.latent_layout, space="w+")
    return folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two photos with faces (the astronaut, and her mirror image on a wider canvas) and one without."""
    folder = tmp_path_factory.mktemp("photos")
    astronaut = skimage_data.astronaut()
    Image.fromarray(astronaut).save(folder / "a.png")
    wide = np.full((512, 640, 3), 90, np.uint8)
    wide[:, 64:576] = astronaut[:, ::-1]
    Image.fromarray(wide).save(folder / "b.jpg", quality=95)
    Image.fromarray(skimage_data.coffee()).save(folder / "coffee.png")
    return folder


def test_photo_pair_is_pasted_back_at_the_target_size_and_cached(mixer_dir, photos, tmp_path, monkeypatch):
    swapper = Swapper.from_folder(mixer_dir)
    cache = PivotCache(tmp_path / "cache")
    inverter = load_inverter("pti", **FAST_PTI)
    projected = []  # the crops each real projection was asked for
    project = inverter.project
    monkeypatch.setattr(
        inverter, "project", lambda G, images, **kw: projected.append(len(images)) or project(G, images, **kw)
    )
    aligner = load_aligner("dlib-ffhq")
    photo_swapper = PhotoSwapper(swapper, inverter, aligner=aligner, cache=cache)
    first = photo_swapper.swap(photos / "a.png", photos / "b.jpg")
    target = load_photo(photos / "b.jpg")
    assert first.aligned.shape == (32, 32, 3)
    assert first.pasted.shape == target.shape
    assert first.cache_hits == (False, False)
    changed = np.any(first.pasted != target, axis=-1)
    ys, xs = np.nonzero(changed)
    assert changed.any() and xs.min() > 150 and xs.max() < 500 and ys.max() < 250  # only around the face
    assert sum(projected) == 2
    again = photo_swapper.swap(photos / "a.png", photos / "b.jpg")
    assert again.cache_hits == (True, True)
    assert sum(projected) == 2  # both pivots read from the cache, none projected again


def test_aligned_crops_swap_without_paste_back(mixer_dir, tmp_path):
    swapper = Swapper.from_folder(mixer_dir)
    G = swapper.generator
    import torch

    from lsw_core.photo import from_tensor

    with torch.no_grad():
        crops = [from_tensor(G.synthesis(G.mapping(torch.randn(1, 16)))) for _ in range(2)]
    result = PhotoSwapper(swapper, load_inverter("w", steps=3, perceptual="pixel-ssim")).swap(crops[0], crops[1])
    assert result.pasted is None and result.aligned.shape == (32, 32, 3)
    with pytest.raises(LswError, match="expected two W\\+ code tensors; swap photos"):
        swapper.swap(G.mapping(torch.randn(1, 16)), crops[1])


def _lsw(*args):
    from lsw_core.cli import add_plugin_commands, cli

    add_plugin_commands()
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _pti_options():
    return [x for k, v in FAST_PTI.items() for x in ("--inverter-option", f"{k}={v}")]


def test_cli_photo_pair_and_folder_batch(mixer_dir, photos, tmp_path):
    common = ["--mixer", str(mixer_dir), "--cache-dir", str(tmp_path / "cache"), *_pti_options()]
    res = _lsw("swap", str(photos / "a.png"), str(photos / "b.jpg"), "-o", str(tmp_path / "out.png"), "--save-latents",
               *common)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "out.npy").shape == (1, 6, 16)
    assert Image.open(tmp_path / "out.png").size == (640, 512)
    assert Image.open(tmp_path / "out_aligned.png").size == (32, 32)
    batch = tmp_path / "batch"
    batch.mkdir()
    for name in ("a.png", "b.jpg"):
        (batch / name).write_bytes((photos / name).read_bytes())
    res = _lsw("swap", str(photos / "a.png"), str(batch), "-o", str(tmp_path / "many"), *common)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == [
        "a__a.png",
        "a__a_aligned.png",
        "a__b.png",
        "a__b_aligned.png",
    ]
    assert "2/2 pivots from cache" in res.output  # a→b again: both pivots known from the first run


@pytest.mark.parametrize("case, message", [("coffee", "no face found"), ("corrupt", "not a readable image"),
                                           ("face", "face 3 requested")])  # fmt: skip
def test_cli_bad_photos_exit_2_with_one_line(mixer_dir, photos, tmp_path, case, message):
    target = photos / "b.jpg"
    extra = []
    if case == "coffee":
        target = photos / "coffee.png"
    elif case == "corrupt":
        target = tmp_path / "broken.jpg"
        target.write_bytes((photos / "b.jpg").read_bytes()[:500])
    else:
        extra = ["--target-face", "3"]
    res = _lsw("swap", str(photos / "a.png"), str(target), "--mixer", str(mixer_dir), "--no-cache", "-o",
               str(tmp_path / "o.png"), *extra, *_pti_options())  # fmt: skip
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and message in lines[0]


def test_camera_aware_swap_renders_at_the_targets_fitted_view(tmp_path):
    import torch

    from lsw_core.photo import PhotoSwapper, from_tensor

    G = TinyGenerator(camera=True).eval()
    mixer = LatentMixer(num_rows=G.num_ws, w_dim=G.w_dim)
    swapper = Swapper(G, mixer)
    from lsw_core.camera import Camera

    with torch.no_grad():
        ws = G.mapping(torch.randn(2, 16, generator=torch.Generator().manual_seed(3)))
        crops = [from_tensor(G.synthesis(ws[i : i + 1], camera=Camera.make(az, 90.0, G.camera.fov))) for i, az in
                 enumerate((-10.0, 15.0))]  # fmt: skip
    inverter = load_inverter("pti", perceptual="pixel-ssim", projection_steps=60, projection_lr=0.02,
                             projection_init="search", tuning_steps=2)  # fmt: skip
    photo_swapper = PhotoSwapper(swapper, inverter, cache=PivotCache(tmp_path))
    first = photo_swapper.swap(crops[0], crops[1])
    again = photo_swapper.swap(crops[0], crops[1])
    assert again.cache_hits == (True, True)
    pivots, _ = photo_swapper.inversion.project(crops)
    assert abs(float(pivots.camera.azimuth[1]) - 15.0) < 4 and abs(float(pivots.camera.azimuth[0]) + 10.0) < 4
    assert first.aligned.shape == (32, 32, 3)


def test_cached_tuned_generator_reproduces_the_swap(mixer_dir, tmp_path):
    import torch

    from lsw_core.photo import PhotoSwapper, from_tensor

    swapper = Swapper.from_folder(mixer_dir)
    G = swapper.generator
    with torch.no_grad():
        crops = [from_tensor(G.synthesis(G.mapping(torch.randn(1, 16)))) for _ in range(2)]
    photo_swapper = PhotoSwapper(
        swapper, load_inverter("pti", **FAST_PTI), cache=PivotCache(tmp_path), cache_tuned=True
    )
    first = photo_swapper.swap(crops[0], crops[1])
    again = photo_swapper.swap(crops[0], crops[1])
    assert again.metrics == {"tuning": "cached"} and again.cache_hits == (True, True)
    assert np.abs(first.aligned.astype(int) - again.aligned.astype(int)).max() <= 1
