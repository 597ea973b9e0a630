"""The latent encoder that starts W projection: it learns w from the generator's own samples, its
guess renders closer to an image than `w_avg` does, projection starts there, and its file refuses
other generators and other formats."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from lsw_core.errors import CheckpointError, LswError
from lsw_core.inversion import ProjectionConfig, project, psnr
from lsw_core.inversion.encoder import ConvLatentEncoder, EncoderConfig, load_encoder, save_encoder, train_encoder
from lsw_core.plugins import load_generator, load_inverter, registry
from lsw_lpips.fallback import PixelSSIM
from tests.conftest import run_lsw
from tests.tiny import TinyGenerator

QUICK = EncoderConfig(resolution=32, pool_size=2000, validation=200, steps=250, batch_size=32, lr=2e-3)


def samples(G, n, seed):
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G.synthesis(G.mapping(z, truncation_psi=0.7))


def render(G, w):
    with torch.no_grad():
        return G.synthesis(w[:, None].expand(-1, G.num_ws, -1))


@pytest.fixture(scope="module")
def trained(tiny_generator):
    encoder, metrics = train_encoder(tiny_generator, QUICK)
    return encoder, metrics


def test_encoder_guesses_w_closer_than_w_avg(tiny_generator, trained):
    G = tiny_generator
    encoder, metrics = trained
    assert metrics["steps"] == QUICK.steps
    assert metrics["validation_error"] < 0.5  # 1.0: always guessing the mean
    images = samples(G, 32, seed=11)
    guess = psnr(render(G, encoder(images)), images).mean()
    mean = psnr(render(G, G.w_avg.expand(32, -1)), images).mean()
    assert guess > mean + 3.0


def test_projection_starts_from_the_encoders_guess(tiny_generator, trained):
    G, encoder = tiny_generator, trained[0]
    images = samples(G, 2, seed=12)
    start = project(G, images, ProjectionConfig(steps=0, init="encoder"), PixelSSIM(), encoder=encoder)
    assert torch.allclose(start.ws, encoder(images)[:, None].expand(-1, G.num_ws, -1), atol=1e-6)
    with pytest.raises(LswError, match="needs a latent encoder"):
        project(G, images, ProjectionConfig(steps=0, init="encoder"), PixelSSIM())


def test_encoder_file_round_trip_refuses_other_generators(tmp_path, tiny_generator, trained):
    encoder = trained[0]
    path = tmp_path / "enc.safetensors"
    save_encoder(path, encoder, trained[1])
    loaded = load_encoder(path)
    assert loaded.config() == encoder.config() and loaded.trained_for == encoder.trained_for
    images = samples(tiny_generator, 4, seed=13)
    assert torch.allclose(loaded(images), encoder(images), atol=2e-2 * float(encoder.w_std.max()))
    loaded.check_generator(tiny_generator)
    other = TinyGenerator(seed=1).eval()
    with pytest.raises(CheckpointError, match="trained for generator"):
        project(other, images, ProjectionConfig(steps=0, init="encoder"), PixelSSIM(), encoder=loaded)
    with pytest.raises(CheckpointError, match="w of 16 dims"):
        ConvLatentEncoder(w_dim=16).check_generator(load_generator("synthface"))


def test_encoder_reads_images_of_any_size(tiny_generator):
    encoder, _ = train_encoder(tiny_generator, EncoderConfig(resolution=64, pool_size=100, steps=2))  # 32 px up
    for size in (16, 32, 64, 128):
        assert encoder(torch.zeros(2, 3, size, size)).shape == (2, tiny_generator.w_dim)
    with pytest.raises(LswError, match=r"images: expected shape \[B, 3, \*, \*\]"):
        encoder(torch.zeros(3, 32, 32))


def test_camera_aware_generators_train_and_project_from_the_encoder(tiny_camera_generator):
    G = tiny_camera_generator
    encoder, metrics = train_encoder(G, EncoderConfig(resolution=32, pool_size=200, steps=3))
    assert metrics["steps"] == 3
    images = samples(G, 2, seed=14)
    inv = project(G, images, ProjectionConfig(steps=2, init="encoder"), PixelSSIM(), encoder=encoder)
    assert inv.camera is not None and inv.ws.shape == (2, G.num_ws, G.w_dim)


def test_bad_encoder_files_are_refused(tmp_path):
    other = tmp_path / "weights.safetensors"
    save_file({"x": torch.zeros(2)}, str(other), metadata={"format": "lsw-mixer"})
    with pytest.raises(CheckpointError, match="not a latent encoder"):
        load_encoder(other)
    damaged = tmp_path / "damaged.safetensors"
    save_file({"x": torch.zeros(2)}, str(damaged), metadata={"format": "lsw-latent-encoder", "config": '{"w_dim": -1}'})
    with pytest.raises(CheckpointError, match="damaged latent encoder metadata"):
        load_encoder(damaged)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00" * 40)
    with pytest.raises(CheckpointError, match="could not read"):
        load_encoder(corrupt)
    with pytest.raises(LswError, match="validation"):
        EncoderConfig(pool_size=100, validation=100)
    assert EncoderConfig(pool_size=300).held_out == 30 and EncoderConfig().held_out == 1000


def test_inverters_take_an_encoder_and_shorten_the_fast_schedule(tmp_path, trained):
    path = tmp_path / "enc.safetensors"
    save_encoder(path, trained[0])
    pti = load_inverter("pti", schedule="fast", perceptual="pixel-ssim", encoder=str(path))
    assert (pti.projection.init, pti.projection.steps) == ("encoder", 30)
    assert load_inverter("pti", schedule="fast", perceptual="pixel-ssim").projection.steps == 50
    authors = load_inverter("pti", perceptual="pixel-ssim", encoder=str(path))
    assert (authors.projection.init, authors.projection.steps) == ("encoder", 450)
    w = load_inverter("w", perceptual="pixel-ssim", encoder=trained[0])
    assert w.config.init == "encoder" and w.encoder is trained[0]
    with pytest.raises(LswError, match="unknown latent encoder"):
        load_inverter("w", perceptual="pixel-ssim", encoder="no-such-encoder")


def test_shipped_synthface_encoder_starts_near_the_image():
    assert "synthface" in registry("latent_encoder")
    G = load_generator("synthface").eval()
    encoder = load_inverter("w", perceptual="pixel-ssim", encoder="synthface").encoder
    encoder.check_generator(G)
    images = samples(G, 8, seed=1000)
    guess = psnr(render(G, encoder(images)), images).mean()
    mean = psnr(render(G, G.w_avg.expand(8, -1)), images).mean()
    assert guess > mean + 5.0
    with pytest.raises(CheckpointError, match="trained for generator 'synthface'"):
        encoder.check_generator(load_generator("synthface3d"))  # the same weights, another backend
    encoder.check_generator(type(G)())  # built directly, without a backend name: the weights decide


def test_cli_trains_an_encoder_file(tmp_path):
    out = tmp_path / "synthface-encoder.safetensors"
    result = run_lsw("encoder", "train", "-g", "synthface", "-o", str(out), "--steps", "20", "--resolution", "32",
                     "--pool-size", "300", "--threads", "1", "--quiet")  # fmt: skip
    assert "wrote" in result.stdout and "held-out w error" in result.stdout
    encoder = load_encoder(out)
    assert encoder.trained_for[0] == "synthface" and encoder.resolution == 32
    encoder.check_generator(load_generator("synthface"))
    failed = run_lsw("encoder", "train", "-g", "no-such-backend", "-o", str(out), "--overwrite", check=False)
    assert failed.returncode == 2 and "unknown generator" in failed.stderr
