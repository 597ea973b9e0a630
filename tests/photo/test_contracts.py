"""Components written only to the contracts in `lsw_core.interfaces`, registered like a third-party
plugin: an aligner and an inverter get the photo swapper's alignment, caching and reuse as the
built-ins do. And every CLI job goes through one route: `lsw swap` builds its generator as
`Swapper.from_folder` does, `--views` with images and `lsw edit` of a photo swap go through the photo
swapper (cache, alignment, tuned generator, paste-back)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import lsw_core.plugins
from lsw_core import Aligner, Inversion, Inverter
from lsw_core.errors import ImageError
from lsw_core.geometry import warp_to_aligned
from lsw_core.mixing.mixer import LatentMixer
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo import AlignedFace, PhotoSwapper, PivotCache, from_tensor, load_photo, quad_to_affine
from lsw_core.plugins import hookimpl
from lsw_core.training.config import TrainConfig
from tests.tiny import TinyGenerator


class CentreAligner(Aligner):
    """The centred square of the photo's shorter side is "the face"; a photo narrower than 40 px has none."""

    def _align(self, image, resolution, face_index):
        h, w = image.shape[:2]
        if min(h, w) < 40 or (face_index or 0) > 0:
            raise ImageError(f"no face found ({w}×{h} pixels)")
        side = min(h, w)
        x0, y0 = (w - side) / 2, (h - side) / 2
        quad = np.array([[x0, y0], [x0, y0 + side], [x0 + side, y0 + side], [x0 + side, y0]])
        to_aligned = quad_to_affine(quad, resolution)
        return AlignedFace(warp_to_aligned(image, to_aligned, resolution), to_aligned, (w, h))


class CountingInverter(Inverter):
    """Pivots: the generator's w_avg nudged towards each image's mean colour, so they differ per image;
    refinement: a copy of the generator whose output bias moves by the pivots' mean. Counts its calls."""

    refines = True

    def __init__(self, strength: float = 1.0) -> None:
        self.strength = strength
        self.projected = 0
        self.refined = 0

    def cache_key(self, generator, stage="project"):
        return ("counting", self.strength)

    def _project(self, generator, images, *, progress):
        self.projected += len(images)
        w = generator.w_avg + self.strength * images.mean(dim=(1, 2, 3))[:, None]
        return Inversion(ws=w[:, None].repeat(1, generator.num_ws, 1), generator=generator)

    def _refine(self, generator, pivots, images, *, progress):
        self.refined += 1
        tuned = copy.deepcopy(generator)
        with torch.no_grad():
            tuned.to_rgb.bias.add_(0.1 * float(pivots.ws.mean()))
        return Inversion(ws=pivots.ws, generator=tuned, camera=pivots.camera)


def _tiny(checkpoint=None, force_fp32=None, camera=False):
    G = TinyGenerator(seed=5, camera=camera)
    if checkpoint is not None:
        G.load_state_dict(torch.load(checkpoint, weights_only=True))
    return G.eval()


class ContractPlugin:
    @hookimpl
    def register_generators(self, register):
        register("tiny-contract", _tiny, description="test generator with a checkpoint")
        register("tiny-contract-3d", lambda checkpoint=None, **o: _tiny(checkpoint, camera=True, **o))

    @hookimpl
    def register_aligners(self, register):
        register("centre", CentreAligner, description="the centred square")

    @hookimpl
    def register_inverters(self, register):
        register("counting", CountingInverter, description="test inverter")


@pytest.fixture(scope="module")
def plugin():
    pm = lsw_core.plugins.plugin_manager()
    p = ContractPlugin()
    pm.register(p, name="contract-test")
    yield
    pm.unregister(p)


def _mixer_folder(folder, backend, generator_options, camera=False):
    G = TinyGenerator(camera=camera)
    torch.manual_seed(0)
    mixer = LatentMixer(num_rows=G.num_ws, w_dim=G.w_dim)
    training = TrainConfig(generator=backend, generator_options=generator_options).to_dict()
    mixer.save_pretrained(folder, backend=backend, layout=G.latent_layout, space="w+", training=training)
    return folder


@pytest.fixture(scope="module")
def trained_weights(tmp_path_factory):
    """A checkpoint unlike the random weights the backend builds without one."""
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    torch.save(TinyGenerator(seed=11).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def mixer_dir(tmp_path_factory, plugin, trained_weights):
    return _mixer_folder(tmp_path_factory.mktemp("mixer"), "tiny-contract", {"checkpoint": str(trained_weights)})


def _lsw(*args):
    from lsw_core.cli import add_plugin_commands, cli

    add_plugin_commands()
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_extra_generator_options_keep_the_trained_checkpoint(mixer_dir, trained_weights, tmp_path):
    swapper = Swapper.from_folder(mixer_dir, force_fp32=True)
    expected = TinyGenerator(seed=11).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in swapper.generator.state_dict().items())
    plain = _lsw("swap", "seed:1", "seed:2", "--mixer", mixer_dir, "-o", tmp_path / "a.png")
    extra = _lsw("swap", "seed:1", "seed:2", "--mixer", mixer_dir, "-o", tmp_path / "b.png",
                 "--generator-option", "force_fp32=true")  # fmt: skip
    assert plain.exit_code == extra.exit_code == 0, plain.output + extra.output
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))


def _photos(G, folder, n=3):
    """Renders of the generator, each centred on a wider canvas: photos whose "face" is the centre."""
    paths = []
    with torch.no_grad():
        for i in range(n):
            crop = from_tensor(G.synthesis(G.mapping(torch.randn(1, 16, generator=torch.Generator().manual_seed(i)))))
            big = np.asarray(Image.fromarray(crop).resize((64, 64), Image.Resampling.LANCZOS))
            photo = np.full((64, 96, 3), 40 * i, np.uint8)
            photo[:, 16:80] = big
            paths.append(folder / f"p{i}.png")
            Image.fromarray(photo).save(paths[-1])
    return paths


def test_contract_aligner_and_inverter_get_caching_and_reuse(mixer_dir, tmp_path):
    swapper = Swapper.from_folder(mixer_dir)
    a, b, c = _photos(swapper.generator, tmp_path)
    inverter = CountingInverter()
    photo_swapper = PhotoSwapper(swapper, inverter, aligner=CentreAligner(), cache=PivotCache(tmp_path / "cache"),
                                 cache_tuned=True)  # fmt: skip
    first = photo_swapper.swap(a, b)
    assert first.cache_hits == (False, False) and (inverter.projected, inverter.refined) == (2, 1)
    assert first.pasted.shape == load_photo(b).shape and first.aligned.shape == (32, 32, 3)
    again = photo_swapper.swap(a, b)
    assert again.cache_hits == (True, True) and (inverter.projected, inverter.refined) == (2, 1)
    assert np.array_equal(first.pasted, again.pasted)
    # a clip's way: the source is projected once, each new target once, and every pair refined
    photo_swapper.swap(a, c)
    assert (inverter.projected, inverter.refined) == (3, 2)
    other = PhotoSwapper(
        swapper, CountingInverter(strength=2.0), aligner=CentreAligner(), cache=photo_swapper.inversion.cache
    )
    assert other.swap(a, b).cache_hits == (False, False)  # the inverter's own key tells its settings apart


def test_cli_photo_swap_with_a_registered_contract_aligner_and_inverter(mixer_dir, tmp_path):
    a, b, _ = _photos(Swapper.from_folder(mixer_dir).generator, tmp_path)
    common = ["--mixer", mixer_dir, "--aligner", "centre", "--inverter", "counting", "--cache-dir", tmp_path / "c"]
    res = _lsw("swap", a, b, "-o", tmp_path / "out.png", *common)
    assert res.exit_code == 0, res.output
    assert Image.open(tmp_path / "out.png").size == (96, 64) and Image.open(tmp_path / "out_aligned.png").size == (
        32,
        32,
    )
    res = _lsw("swap", a, b, "-o", tmp_path / "again.png", *common)
    assert "2/2 pivots from cache" in res.output
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((36, 36, 3), np.uint8)).save(tiny)
    res = _lsw("swap", a, tiny, "-o", tmp_path / "x.png", "--photos", *common)
    assert res.exit_code == 2 and f"error: {tiny}: no face found" in res.output


def test_edit_of_a_photo_swap_renders_with_the_tuned_generator_and_pastes_back(mixer_dir, trained_weights, tmp_path):
    a, b, _ = _photos(Swapper.from_folder(mixer_dir).generator, tmp_path)
    res = _lsw("swap", a, b, "-o", tmp_path / "s.png", "--mixer", mixer_dir, "--aligner", "centre",
               "--inverter", "counting", "--no-cache", "--save-latents")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "s.swap.safetensors").is_file()
    res = _lsw("edit", tmp_path / "s.npy", "-g", "tiny-contract", "--ganspace", "0", "--strengths", "0,2",
               "-o", tmp_path / "e.png")  # fmt: skip
    assert res.exit_code == 2 and "recorded for generator 'tiny-contract' with weights" in res.output
    res = _lsw("edit", tmp_path / "s.npy", "-g", "tiny-contract", "--checkpoint", trained_weights, "--ganspace", "0",
               "--strengths", "0,2", "-o", tmp_path / "e.png")  # fmt: skip
    assert res.exit_code == 0, res.output
    grid = np.asarray(Image.open(tmp_path / "e.png").convert("RGB")).astype(int)
    swapped = np.asarray(Image.open(tmp_path / "s.png").convert("RGB")).astype(int)
    assert grid.shape == (2 + 64 + 2, 2 + 2 * (96 + 2), 3)  # two pasted photos side by side (stack_rows, pad 2)
    unedited, edited = grid[2:66, 2:98], grid[2:66, 100:196]
    assert np.abs(unedited - swapped).max() <= 1  # strength 0: the swap as pasted, tuned generator and all
    assert (unedited != edited).any() and (unedited[:, :10] == edited[:, :10]).all()  # edits stay in the face


def test_views_of_photo_inputs_go_through_the_photo_swapper(plugin, trained_weights, tmp_path):
    mixer = _mixer_folder(tmp_path / "m3d", "tiny-contract-3d", {"checkpoint": str(trained_weights)}, camera=True)
    G = Swapper.from_folder(mixer).generator
    crops = []
    with torch.no_grad():
        for i in range(2):
            crops.append(tmp_path / f"c{i}.png")
            Image.fromarray(from_tensor(G.synthesis(G.mapping(torch.randn(1, 16))))).save(crops[-1])
    common = ["--mixer", mixer, "--views", 3, "--inverter", "counting", "--cache-dir", tmp_path / "cache"]
    res = _lsw("swap", crops[0], crops[1], "-o", tmp_path / "v.png", *common)
    assert res.exit_code == 0, res.output
    strip = Image.open(tmp_path / "v_views.png")
    assert strip.size[0] >= 3 * 32 and strip.size[1] >= 3 * 32  # source, target, swap rows × 3 views
    assert (tmp_path / "v_views.gif").is_file() and Image.open(tmp_path / "v.png").size == (32, 32)
    res = _lsw("swap", crops[0], crops[1], "-o", tmp_path / "w.png", *common)
    assert "2/2 pivots from cache" in res.output
