"""What a file can make lsw-core do: torch files never run code and refuse in one line; a stored
architecture is bounded before anything is built."""

import json
import time

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from lsw_core.errors import CheckpointError
from lsw_core.formats.bounds import check_int, check_resolution, check_size
from lsw_core.formats.torchfile import load_torch_file


class Payload:
    """A class a torch file may name; loading the file would import and build it."""


def test_torch_files_refuse_in_one_line_naming_the_file_and_the_object(tmp_path):
    path = tmp_path / "g.pt"
    torch.save({"weights": torch.ones(2), "extra": Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        load_torch_file(path, "StyleGAN2 torch checkpoint")
    message = str(info.value)
    assert "\n" not in message and "please" not in message.lower()
    assert message.startswith(f"{path}: StyleGAN2 torch checkpoint refused: it stores the Python object ")
    assert f"{Payload.__module__}.Payload" in message
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(
        CheckpointError, match=r"refused: cannot read it: truncated, corrupt or not a torch file \("
    ) as info:
        load_torch_file(path)
    assert "\n" not in str(info.value)
    torch.save({"w": torch.ones(3)}, path)
    assert torch.equal(load_torch_file(path)["w"], torch.ones(3))


def test_settings_are_bounded_with_the_setting_named():
    assert check_resolution("res", 1024) == 1024 and check_int("n", 3.0, 1, 4) == 3
    for value, message in ((1 << 20, "res: expected 4 to 4096, found 1048576"), (1000, "a power of two"),
                           (True, "a whole number"), ("64", "a whole number"), (2.5, "a whole number")):  # fmt: skip
        with pytest.raises(CheckpointError, match=message):
            check_resolution("res", value, source="f.pt")


def test_parameter_count_is_taken_on_the_meta_device_before_building():
    start = time.monotonic()
    with pytest.raises(CheckpointError, match=r"makes a test network of 10,000 M values; refused"):
        check_size(lambda: nn.Linear(100_000, 100_000, bias=False), what="test network")  # 40 GB if built
    assert time.monotonic() - start < 5
    check_size(lambda: nn.Linear(10, 10), what="test network")


def test_a_crafted_encoder_file_is_refused_before_building(tmp_path):
    from lsw_core.inversion.encoder import FORMAT, load_encoder

    config = {"w_dim": 512, "resolution": 64, "channels": 32, "max_channels": 65536, "hidden": 256}
    metadata = {"format": FORMAT, "config": json.dumps(config), "backend": "x", "generator_fingerprint": "0"}
    save_file({"x": torch.zeros(1)}, str(tmp_path / "e.safetensors"), metadata=metadata)
    with pytest.raises(CheckpointError, match="encoder max_channels: expected 1 to 4096, found 65536"):
        load_encoder(tmp_path / "e.safetensors")
    metadata["config"] = json.dumps({**config, "max_channels": 128, "resolution": 65536})
    save_file({"x": torch.zeros(1)}, str(tmp_path / "e.safetensors"), metadata=metadata)
    with pytest.raises(CheckpointError, match="encoder resolution: expected 4 to 4096"):
        load_encoder(tmp_path / "e.safetensors")


@pytest.mark.parametrize("size", [(14000, 14000), (12000, 11000)], ids=["over-PILs-limit", "over-lsws-limit"])
def test_oversized_photos_are_refused_from_their_header(tmp_path, size):
    from lsw_core.errors import ImageError
    from lsw_core.photo import MAX_PHOTO_PIXELS, load_photo
    from tests.cli.test_bad_inputs import png_header

    png_header("big.png", *size)(tmp_path)
    assert (tmp_path / "big.png").stat().st_size < 200 and size[0] * size[1] > MAX_PHOTO_PIXELS
    start = time.monotonic()
    with pytest.raises(ImageError, match=r"big.png: refused: .*120 megapixels"):
        load_photo(tmp_path / "big.png")
    assert time.monotonic() - start < 5
