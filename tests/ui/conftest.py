"""Fixtures of the `lsw ui` tests: tiny mixers trained on the synthetic world at 64 px (2D and
camera-aware), photos and clips the world renders, and the app itself, served on a free local port
in this process for the whole session (so the tests can also look at what it loaded)."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import tempfile
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lsw_core.evaluation.latent_pairs import evaluate_mixer
from lsw_core.formats.artifacts import write_json
from lsw_core.images import from_tensor
from lsw_core.mixing.swapper import Swapper
from lsw_core.training.config import TrainConfig
from lsw_core.training.trainer import MixerTrainer

# Gradio reads where its temporary files go when it is imported: a folder of this test run, not /tmp/gradio.
GRADIO_TEMP = tempfile.mkdtemp(prefix="lsw-ui-tests-")
os.environ.setdefault("GRADIO_TEMP_DIR", GRADIO_TEMP)
gr = pytest.importorskip("gradio", reason="Gradio is in the `ui` extra: pip install 'lsw-core[ui]'")
av = pytest.importorskip("av", reason="PyAV is in the `video` extra")
from tests import clips  # noqa: E402  (after the skip: it imports PyAV)

RESOLUTION = 64
#: The app's inverter for the tests: the fast schedule cut to a few steps, pixel + SSIM loss (no LPIPS weights).
FAST = {"perceptual": "pixel-ssim", "projection_steps": 4, "projection_warm_steps": 2, "tuning_steps": 2}
FPS = Fraction(8)


def train_tiny(folder: Path, generator: str) -> Path:
    """A mixer trained for two steps of two pairs on the world at 64 px (its swaps are not good ones)."""
    config = TrainConfig(generator=generator, generator_options={"resolution": RESOLUTION}, batch_size=2, steps=2,
                         calibration_batches=1, log_every=1)  # fmt: skip
    MixerTrainer(config, folder, progress=False).train()
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_clip(path: Path, frames: list[np.ndarray], *, audio: bool = True) -> Path:
    """An mp4 of `frames` at 8 fps (MPEG-4), with a 440 Hz tone as AAC audio."""
    return clips.write_clip(path, frames, audio=audio, fps=FPS)


def write_png_header(path: Path, width: int, height: int) -> Path:
    """A small PNG file whose header declares `width` × `height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))  # fmt: skip
    return path


@pytest.fixture(scope="session", autouse=True)
def _gradio_temp():
    yield
    shutil.rmtree(GRADIO_TEMP, ignore_errors=True)


@pytest.fixture(scope="session")
def mixers(tmp_path_factory) -> dict[str, Path]:
    """Trained tiny mixers: "2d" (synthface) with metrics beside it, and "3d" (synthface3d)."""
    root = tmp_path_factory.mktemp("ui-mixers")
    torch.set_num_threads(2)
    found = {"2d": train_tiny(root / "synth2d", "synthface"), "3d": train_tiny(root / "synth3d", "synthface3d")}
    write_json(found["2d"] / "metrics.json", evaluate_mixer(Swapper.from_folder(found["2d"]), pairs=4))
    direction = np.zeros(512, np.float32)
    direction[:8] = 1
    (found["2d"] / "directions").mkdir()
    np.save(found["2d"] / "directions" / "first_eight.npy", direction)
    return found


@pytest.fixture(scope="session")
def media(tmp_path_factory, mixers) -> dict[str, Path]:
    """Faces of the world as aligned 64² crops (seeds 11, 12), a text file, a PNG declaring 14000², a
    clip of six frames with audio, and a clip that does not decode."""
    folder = tmp_path_factory.mktemp("ui-media")
    swapper = Swapper.from_folder(mixers["2d"])
    z = swapper.latents_from_seeds([11, 12, 13])
    crops = [from_tensor(image) for image in swapper.render(swapper.wplus_from_z(z))]
    Image.fromarray(crops[0]).save(folder / "source.png")
    Image.fromarray(crops[1]).save(folder / "target.png")
    (folder / "notes.txt").write_text("not a photo\n")
    (folder / "notes.png").write_text("not a photo either\n")
    write_png_header(folder / "huge.png", 14000, 14000)
    ws = swapper.wplus_from_z(z[1:3])
    t = torch.linspace(0, 0.3, 6)[:, None, None]
    frames = [from_tensor(image) for image in swapper.render(ws[:1] * (1 - t) + ws[1:] * t)]
    write_clip(folder / "walk.mp4", frames)
    write_clip(folder / "long.mp4", frames * 4 + frames[:1], audio=False)  # 25 frames, over the app's 20
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    return folder


@pytest.fixture(scope="session")
def app(tmp_path_factory, mixers):
    """The app serving both tiny mixers on a free 127.0.0.1 port; yields (engine, url). Sessions are
    checked for every second (Gradio's default is 15 s), so a closed one ends quickly."""
    from lsw_core.ui import Engine, UiSettings, launch

    heartbeat = os.environ.get("GRADIO_HEARTBEAT_INTERVAL")
    os.environ["GRADIO_HEARTBEAT_INTERVAL"] = "1"

    settings = UiSettings(
        mixers=[mixers["2d"], mixers["3d"]],
        models=[tmp_path_factory.mktemp("ui-models")],
        inverter_options=FAST,
        max_video_frames=20,
        out=tmp_path_factory.mktemp("ui-out"),
        demo_steps=2,
        demo_settings={"batch_size": 2, "calibration_batches": 1},
    )  # a models folder without a mixer: the demo mixer trains there, in two steps of two pairs
    engine = Engine(settings, root=tmp_path_factory.mktemp("ui-temp"))
    blocks, url = launch(engine, port=free_port(), block=False, quiet=True)
    assert url.startswith("http://127.0.0.1:")
    yield engine, url
    blocks.close()
    engine.close()
    if heartbeat is None:
        os.environ.pop("GRADIO_HEARTBEAT_INTERVAL", None)
    else:
        os.environ["GRADIO_HEARTBEAT_INTERVAL"] = heartbeat


@pytest.fixture
def client(app, tmp_path):
    from gradio_client import Client

    _, url = app
    client = Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
    yield client
    client.close()
