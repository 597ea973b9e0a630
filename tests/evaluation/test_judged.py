"""Judges and `judge_mixer`: a mixer judged by networks it may not have trained with, against
interpolation at its own pixel distance. A gated mixer before training is exactly interpolation at
its gate, which gives every measure a known answer."""

from __future__ import annotations

import json

import pytest
import torch

import lsw_core
from lsw_core.errors import LswError, ShapeError
from lsw_core.evaluation.judged import judge_mixer, trained_networks
from lsw_core.interfaces import Judge, Judgement
from lsw_core.mixing.mixer import GatedLatentMixer
from lsw_core.mixing.swapper import Swapper
from tests.conftest import run_lsw

pytest.importorskip("lsw_synthface")


@pytest.fixture(scope="module")
def interpolating():
    """A synthetic-world swapper whose swap is l_t + 0.7 (l_s − l_t), and the world's own judge."""
    G = lsw_core.load_generator("synthface", resolution=64)
    mixer = GatedLatentMixer(num_rows=G.num_ws, w_dim=G.w_dim, gate_init=0.7)
    return Swapper(G, mixer, truncation_psi=0.5, truncation_cutoff=8), lsw_core.load_judge("synthface")


def test_a_swap_that_is_interpolation_is_judged_as_interpolation_at_its_pixels(interpolating):
    swapper, judge = interpolating
    report = judge_mixer(swapper, {"synthface": judge}, pairs=12, alphas=(0.5, 0.65, 0.75, 0.9), batch_size=6)
    judged = report["judges"]["synthface"]
    at = judged["interpolation_at_swap_pixels"]
    assert not at["outside"] and at["alpha"] == pytest.approx(0.7, abs=0.03)
    for key in ("closer_to_source", "pose_error_deg", "expression_error"):
        assert at[key] == pytest.approx(judged["swap"][key], abs=0.1 if key == "closer_to_source" else None, rel=0.15)
    curve = [judged["interpolation"][a]["closer_to_source"] for a in ("0.5", "0.65", "0.75", "0.9")]
    assert curve == sorted(curve) and curve[-1] > curve[0]  # identity moves to the source with α
    assert judged["source"]["closer_to_source"] == 1.0
    assert judged["source"]["pose_error_deg"] > judged["interpolation"]["0.5"]["pose_error_deg"] > 0
    assert judged["independent"] and report["n_pairs"] == 12


def test_a_judge_of_the_training_network_is_marked_dependent(interpolating):
    swapper, judge = interpolating
    report = judge_mixer(swapper, {"own": judge}, pairs=2, alphas=(0.5,), trained_with=["synthface-id"])
    assert report["judges"]["own"]["independent"] is False and report["trained_with"] == ["synthface-id"]
    config = {"training": {"embedder": "dlib-resnet", "extra_embedders": {"sface": 0.5}}}
    assert trained_networks(config) == ["dlib-resnet", "sface"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pairs": 1}, "at least 2"),
        ({"alphas": (0.0, 0.5)}, "strictly between 0 and 1"),
        ({"judges": {}}, "at least one judge"),
    ],
)
def test_bad_settings_are_one_error(interpolating, kwargs, message):
    swapper, judge = interpolating
    with pytest.raises(LswError, match=message):
        judge_mixer(swapper, kwargs.pop("judges", {"j": judge}), **kwargs)


class _Mismeasuring(Judge):
    network, measures = "test", ("identity",)

    def _judge(self, images, face_box):
        return Judgement(found=torch.ones(len(images), dtype=torch.bool), pose=torch.zeros(len(images), 3))


def test_a_judge_returning_what_it_does_not_declare_is_refused():
    with pytest.raises(ShapeError, match="measures"):
        _Mismeasuring()(torch.zeros(2, 3, 8, 8))
    with pytest.raises(LswError, match="face box"):
        _Mismeasuring()(torch.zeros(2, 3, 8, 8), face_box=(0.5, 0.2, 0.1, 0.9))


def test_lsw_eval_reports_each_judge(tmp_path):
    G = lsw_core.load_generator("synthface", resolution=64)
    mixer = GatedLatentMixer(num_rows=G.num_ws, w_dim=G.w_dim, gate_init=0.7)
    training = lsw_core.TrainConfig(generator="synthface", generator_options={"resolution": 64}).to_dict()
    mixer.save_pretrained(tmp_path / "m", backend="synthface", layout=G.latent_layout, training=training)
    result = run_lsw(
        "eval", "--mixer", str(tmp_path / "m"), "--judge", "synthface", "--pairs", "4", "-o", str(tmp_path / "e.json")
    )
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["judged"]["judges"]["synthface"]["network"] == "synthface-id + synthface-3dmm"
    assert json.loads(result.stdout) == report and "id_retrieval" in report  # the world's own metrics as well
    refused = run_lsw("eval", "--mixer", str(tmp_path / "m"), "--judge", "nosuch", check=False)
    assert refused.returncode == 2 and "unknown judge 'nosuch'" in refused.stderr
    refused = run_lsw(
        "eval", "--mixer", str(tmp_path / "m"), "--judge", "synthface", "--judge-option", "x:a=1", check=False
    )
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
