"""Photos swapped at 1024 px with the `mobilestylegan` backend: `lsw swap` aligns, inverts, swaps and
pastes back through a small random-weight MobileStyleGAN with the FFHQ model's layout (seven blocks
to 1024 px, 23 W+ rows) written as IR files by the backend's test helpers; latent encoders train on
it; and, marked slow and skipped without the `random-face` wheel, one photo swap on the wheel's
model with a few inversion steps."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
import torch
from PIL import Image

from lsw_core.interfaces import LatentLayout
from lsw_core.inversion import ProjectionConfig, fast_schedule, project
from lsw_core.inversion import encoder as encoder_module
from lsw_core.inversion.encoder import EncoderConfig, load_encoder, render_batch, save_encoder, train_encoder
from lsw_core.inversion.projector import cpu_bf16_supported, mixed_precision_enabled
from lsw_core.mixing.mixer import GatedLatentMixer
from lsw_core.plugins import load_generator
from lsw_lpips.fallback import PixelSSIM
from tests.conftest import run_lsw
from tests.mobilestylegan.conftest import small_generator, wheel_installed
from tests.mobilestylegan.irwriter import write_ir
from tests.tiny import TinyGenerator

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the `test` extra")

#: The FFHQ model's seven blocks (8² … 512², image 1024²) at 8 channels: 23 W+ rows, as the wheel's.
NARROW_1024 = dict(channels=[8] * 8)
FEW_STEPS = ("--inverter-option", "schedule=fast", "--inverter-option", "perceptual=pixel-ssim",
             "--inverter-option", "projection_steps=2", "--inverter-option", "tuning_steps=1")  # fmt: skip


@pytest.fixture(scope="module")
def narrow_ir(tmp_path_factory):
    """(the narrow generator as `load_generator` reads it from its IR files, the IR folder)."""
    folder = write_ir(small_generator(seed=3, **NARROW_1024), tmp_path_factory.mktemp("narrow") / "ir")
    return load_generator("mobilestylegan", checkpoint=folder).eval(), folder


@pytest.fixture(scope="module")
def narrow(narrow_ir):
    return narrow_ir[0]


@pytest.fixture
def photos(tmp_path):
    """The astronaut photo as source, and as target the same photo mirrored on a wider canvas."""
    photo = skimage_data.astronaut()
    source, target = tmp_path / "source.png", tmp_path / "target.jpg"
    Image.fromarray(photo).save(source)
    canvas = np.full((600, 700, 3), 90, np.uint8)
    canvas[44:556, 150:662] = photo[:, ::-1]
    Image.fromarray(canvas).save(target, quality=95)
    return source, target, canvas


def write_mixer(folder, num_ws: int, w_dim: int) -> None:
    torch.manual_seed(0)
    GatedLatentMixer(num_rows=num_ws, w_dim=w_dim, gate_init=0.6).save_pretrained(
        folder, backend="mobilestylegan", layout=LatentLayout(num_ws, w_dim)
    )


def test_the_narrow_generator_has_the_wheel_models_layout(narrow):
    assert (narrow.resolution, narrow.num_ws) == (1024, 23)


def test_lsw_swap_swaps_photos_at_1024_px_on_a_mobilestylegan_ir(tmp_path, narrow_ir, photos):
    pytest.importorskip("dlib", reason="dlib is in the `faces` extra")
    narrow, ir = narrow_ir
    write_mixer(tmp_path / "mixer", narrow.num_ws, narrow.w_dim)
    source, target, canvas = photos
    out = tmp_path / "out.png"
    done = run_lsw("swap", str(source), str(target), "--mixer", str(tmp_path / "mixer"), "--checkpoint", str(ir),
                   *FEW_STEPS, "--no-cache", "-o", str(out))  # fmt: skip
    assert "reconstruction PSNR" in done.stderr
    pasted = np.asarray(Image.open(out))
    aligned = np.asarray(Image.open(tmp_path / "out_aligned.png"))
    assert pasted.shape == canvas.shape and aligned.shape == (1024, 1024, 3)
    # the swap lands on the face and nowhere else: the canvas border is the target's own (JPEG-decoded)
    border = np.asarray(Image.open(target)).astype(int)
    assert np.abs(pasted[:40].astype(int) - border[:40]).max() == 0
    face = (slice(120, 330), slice(330, 520))  # the mirrored astronaut's face on the canvas
    assert np.abs(pasted[face].astype(int) - border[face]).mean() > 5


def test_the_fast_schedule_projects_in_bf16_on_cpus_that_have_it(narrow):
    projection, tuning = fast_schedule()
    cpu = torch.device("cpu")
    assert projection.mixed_precision and tuning.mixed_precision
    # MobileStyleGAN says bf16 pays on the CPU; the tiny generator does not, and never without the flag
    assert mixed_precision_enabled(narrow, cpu, True) == cpu_bf16_supported()
    assert not mixed_precision_enabled(narrow, cpu, False)
    assert not mixed_precision_enabled(TinyGenerator(), cpu, True)
    images = narrow.synthesis(narrow.mapping(torch.randn(1, narrow.z_dim), truncation_psi=0.5))
    config = ProjectionConfig(steps=1, init="w_avg", initial_noise_factor=0.0, lr_rampup_length=0.0)
    full = project(narrow, images, config, PixelSSIM())
    mixed = project(narrow, images, attrs.evolve(config, mixed_precision=True), PixelSSIM())
    if cpu_bf16_supported():  # one step under bf16 moves w differently
        assert not torch.equal(full.ws, mixed.ws)
    assert (full.ws - mixed.ws).abs().max() < 0.1


def test_encoder_pools_render_big_generators_a_few_samples_at_a_time(monkeypatch):
    assert [render_batch(r) for r in (64, 128, 256, 512, 1024, 2048)] == [50, 50, 16, 4, 1, 1]
    G = small_generator(seed=1)  # 32 px: chunks of 50 at once, or one at a time
    config = EncoderConfig(resolution=16, pool_size=60, validation=10)
    whole = encoder_module._render_pool(G, config, None)
    monkeypatch.setattr(encoder_module, "RENDER_PIXELS", 32 * 32)
    single = encoder_module._render_pool(G, config, None)
    assert torch.equal(whole[1], single[1])  # the same latents
    assert torch.allclose(whole[0], single[0], atol=1e-5)  # the same images, however batched


def test_encoders_train_on_a_1024_px_mobilestylegan(tmp_path, narrow):
    config = EncoderConfig(resolution=32, pool_size=12, validation=4, steps=3, batch_size=4)
    encoder, metrics = train_encoder(narrow, config)
    assert metrics["steps"] == 3 and np.isfinite(metrics["validation_error"])
    save_encoder(tmp_path / "enc.safetensors", encoder, metrics)
    loaded = load_encoder(tmp_path / "enc.safetensors")
    assert loaded.trained_for == ("mobilestylegan", encoder.trained_for[1])
    image = narrow.synthesis(narrow.mapping(torch.randn(1, narrow.z_dim)))
    assert loaded(image).shape == (1, narrow.w_dim)


@pytest.mark.slow
@pytest.mark.skipif(not wheel_installed(), reason="needs the random-face wheel: pip install --no-deps random-face")
def test_a_photo_swap_on_the_wheels_1024_px_model(tmp_path, photos):
    pytest.importorskip("dlib", reason="dlib is in the `faces` extra")
    write_mixer(tmp_path / "mixer", 23, 512)
    source, target, canvas = photos
    out = tmp_path / "out.png"
    done = run_lsw("swap", str(source), str(target), "--mixer", str(tmp_path / "mixer"), *FEW_STEPS[:-2], "--no-cache",
                   "--inverter-option", "tuning_steps=6", "-o", str(out), "--save-latents")  # fmt: skip
    psnr = float(done.stderr.split("reconstruction PSNR ")[1].split(" dB")[0])
    # a mid-grey frame scores 9.8 dB on this photo and noise 7.3 dB; two projection steps from w_avg
    # alone reach about 12, and six tuning steps of the real weights must lift it well past that
    assert psnr > 15
    assert np.asarray(Image.open(out)).shape == canvas.shape
    assert np.load(tmp_path / "out.npy").shape == (1, 23, 512)
