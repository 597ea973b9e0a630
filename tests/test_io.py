import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from lsw_core import CheckpointError, ImageError, LatentLayout
from lsw_core.formats.artifacts import atomic_write, write_folder
from lsw_core.images import load_image, make_grid, save_gif, save_image, swap_grid
from lsw_core.mixing.mixer import LatentMixer, read_mixer_config


def test_mixer_folder_round_trip(tmp_path):
    mixer = LatentMixer(num_rows=3, w_dim=8, residual_coefficient=0.5)
    mixer.save_pretrained(tmp_path, backend="b", layout=LatentLayout(3, 8), space="w+", step=7)
    loaded, config = LatentMixer.from_pretrained(tmp_path), read_mixer_config(tmp_path)
    assert config["step"] == 7 and config["latent_layout"] == {"num_ws": 3, "w_dim": 8}
    s, t = torch.randn(2, 3, 8), torch.randn(2, 3, 8)
    torch.testing.assert_close(loaded(s, t), mixer(s, t), rtol=0, atol=0)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "mixer.safetensors"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def fail(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(path, fail)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]


def test_atomic_write_gives_the_file_a_normal_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "f.txt", lambda tmp: open(tmp, "w").close())
    finally:
        os.umask(mask)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644  # not mkstemp's owner-only 0o600


def test_corrupt_and_mismatched_mixer_folders_are_refused(tmp_path):
    mixer = LatentMixer(num_rows=2, w_dim=4)
    mixer.save_pretrained(tmp_path, backend="b", layout=LatentLayout(2, 4), space="w+")
    (tmp_path / "mixer.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="cannot read mixer weights"):
        LatentMixer.from_pretrained(tmp_path)
    other = LatentMixer(num_rows=3, w_dim=4).state_dict()
    write_folder(tmp_path, json.loads((tmp_path / "config.json").read_text()), other, "mixer.safetensors")
    with pytest.raises(CheckpointError, match="do not match its config"):
        LatentMixer.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        LatentMixer.from_pretrained(tmp_path)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "RGB"])
def test_images_of_any_mode_load_as_rgb_in_range(tmp_path, mode):
    path = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)).convert(mode).save(path)
    x = load_image(path, resolution=16)
    assert x.shape == (1, 3, 16, 16) and x.min() >= -1 and x.max() <= 1


def test_corrupt_image_gets_one_clear_error(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(path)
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.png")


def test_save_and_reload_is_lossless_for_png(tmp_path):
    x = torch.linspace(-1, 1, 3 * 8 * 8).view(1, 3, 8, 8)
    save_image(x, tmp_path / "x.png")
    assert (load_image(tmp_path / "x.png") - x).abs().max() <= 1 / 127.5


def test_grids_and_gifs(tmp_path):
    imgs = torch.zeros(5, 3, 4, 4)
    assert make_grid(imgs, ncols=2, pad=1).shape == (3, 3 * 5 + 1, 2 * 5 + 1)
    grid = swap_grid(torch.zeros(3, 3, 4, 4), torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 3, 4, 4))
    assert grid.shape == (3, 3 * 6 + 2, 4 * 6 + 2)
    save_gif(torch.rand(4, 3, 8, 8) * 2 - 1, tmp_path / "a.gif")
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 6  # forward, then back without repeating the ends
