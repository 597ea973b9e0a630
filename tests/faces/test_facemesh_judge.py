"""The `facemesh` judge: pose and expression from MediaPipe Face Mesh's landmarks, a network no shape
model here learnt from, checked against the synthetic world's truth on faces other than those its
vertex table was derived on."""

import json

import numpy as np
import pytest
import torch

import lsw_core
from lsw_core.evaluation.judged import judge_mixer, trained_networks
from lsw_core.mixing.mixer import GatedLatentMixer
from lsw_core.mixing.swapper import Swapper

from .conftest import world_renders

pytest.importorskip("scipy.optimize", reason="the pose fit needs scipy (pip install 'lsw-core[faces]')")
pytest.importorskip(
    "mediapipe.python.solutions.face_mesh", reason="needs MediaPipe 0.10 (docs/evaluation.md: the facemesh judge)"
)

from lsw_faces.landmarks import FEATURE_NAMES  # noqa: E402
from lsw_faces.landmarks.facemesh import MESH_VERTICES, mesh_to_ibug  # noqa: E402


@pytest.fixture(scope="module")
def judge():
    return lsw_core.load_judge("facemesh")


@pytest.fixture(scope="module")
def renders():
    """96 faces of `synthface` at 256 px, z from seed 1001 (the vertex table was derived on seed 1000's)."""
    return world_renders(96, seed=1001)


@pytest.fixture(scope="module")
def judged(judge, renders):
    return judge(renders[0])


def test_the_vertex_table_names_one_mesh_vertex_per_ibug_point():
    table = mesh_to_ibug()
    assert table.shape == (68,) and ((0 <= table) & (table < MESH_VERTICES)).all()
    assert len(set(table.tolist())) == 68


def test_pose_and_expression_against_the_truth(judged, renders):
    """Measured on these 96 faces: found 96 %; mean |error| 3.4°, 7.6°, 2.1° (yaw, pitch, roll), 90th
    percentile 6.1°, 15.5°, 3.7°; correlation with the true angle 0.96, 0.30, 0.90 (dlib's on seed
    1000's faces: 0.74, 0.32, 0.83); open mouth follows `jaw_open` (r 0.61), eye opening `blink`
    (r −0.40, −0.31)."""
    truth = renders[1]
    found = judged.found
    assert judged.identity is None and found.float().mean() > 0.85
    assert torch.isnan(judged.pose[~found]).all()  # faces it did not find are left out, never guessed
    err = (judged.pose[found] - truth["pose"][found]).abs()
    assert err.mean(0).tolist() < [5.0, 10.0, 3.0]
    assert err.quantile(0.9, dim=0).tolist() < [9.0, 19.0, 5.5]
    for axis, least in zip(range(3), (0.85, 0.15, 0.75)):
        assert np.corrcoef(judged.pose[found][:, axis], truth["pose"][found][:, axis])[0, 1] > least
    names = list(FEATURE_NAMES)
    e, t = judged.expression[found], truth["expression"][found]
    assert np.corrcoef(e[:, names.index("mouth_open")], t[:, 1])[0, 1] > 0.45
    assert np.corrcoef(e[:, names.index("eye_open_left")], t[:, 3])[0, 1] < -0.2
    assert np.corrcoef(e[:, names.index("eye_open_right")], t[:, 3])[0, 1] < -0.15


def test_a_mixer_taught_by_dlib_landmarks_is_judged_independently_by_facemesh_only(judge):
    """`trained_networks` reads the shape model from a run's config; dlib's judge then says its pose
    and expression are not independent of that mixer, Face Mesh's that they are."""
    config = {"training": {"embedder": "dlib-resnet", "shape_model": "dlib-landmarks", "mu_shape": 1.0}}
    trained = trained_networks(config)
    assert trained == ["dlib-resnet", "dlib-landmarks"]
    assert trained_networks({"training": {**config["training"], "mu_shape": 0.0}}) == ["dlib-resnet"]
    G = lsw_core.load_generator("synthface", resolution=64)
    swapper = Swapper(G, GatedLatentMixer(num_rows=G.num_ws, w_dim=G.w_dim, gate_init=0.7), truncation_psi=0.5)
    dlib = lsw_core.load_judge("dlib")
    report = judge_mixer(swapper, {"dlib": dlib, "facemesh": judge}, pairs=2, alphas=(0.5,), trained_with=trained)
    assert report["judges"]["dlib"]["independent"] is False
    assert report["judges"]["dlib"]["pose_expression_independent"] is False
    assert report["judges"]["facemesh"]["pose_expression_independent"] is True
    assert "closer_to_source" not in report["judges"]["facemesh"]["swap"]
    json.dumps(report)  # a report is plain JSON
