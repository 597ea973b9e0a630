"""Deep3DFaceRecon shape model on synthetic files in the real layouts: a small BFM_model_front.mat
(a few hundred vertices, Deep3DFaceRecon's keys and shapes) and an `epoch_20.pth`-style checkpoint
(`net_recon` with a torchvision ResNet-50 backbone and seven 1×1 `final_layers`)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lsw_core
from lsw_core.errors import CheckpointError
from lsw_faces.bfm import BFMLandmarks, rotation_matrices
from lsw_faces.deep3d import NUM_COEFFS, Deep3DShapeModel

from .faces_layouts import resnet50_forward

scipy_io = pytest.importorskip("scipy.io", reason="reading BFM_model_front.mat needs scipy")
torch.set_num_threads(2)


def reference_landmarks(mat, coeffs):
    """Deep3DFaceRecon's ParametricFaceModel.compute_for_render, in numpy over all vertices."""
    c = coeffs.astype(np.float64)
    id_c, ex_c, angles, trans = c[:, :80], c[:, 80:144], c[:, 224:227], c[:, 254:257]
    mean = mat["meanshape"].astype(np.float64).reshape(-1, 3)
    mean = (mean - mean.mean(axis=0, keepdims=True)).reshape(1, -1)
    shape = (id_c @ mat["idBase"].T + ex_c @ mat["exBase"].T + mean).reshape(len(c), -1, 3)
    out = []
    for b in range(len(c)):
        x, y, z = angles[b]
        rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
        ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
        rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
        rot = (rz @ ry @ rx).T
        v = shape[b] @ rot + trans[b]
        v[:, 2] = 10.0 - v[:, 2]
        persc = np.array([1015.0, 0, 112.0, 0, 1015.0, 112.0, 0, 0, 1]).reshape(3, 3).T
        p = v @ persc
        p = p[:, :2] / p[:, 2:]
        out.append(p[mat["keypoints"].astype(np.int64).reshape(-1) - 1])
    return np.stack(out)


@pytest.fixture(scope="module")
def model(deep3d_files):
    return lsw_core.load_shape_model("deep3d", checkpoint=deep3d_files[0] / "epoch_20.pth")


def random_coeffs(b, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(b, NUM_COEFFS, generator=g) * 0.5
    c[:, 224:227] = (torch.rand(b, 3, generator=g) - 0.5) * 1.2  # angles within ±35°
    c[:, 254:256] *= 0.2
    c[:, 256] = 0.3 * torch.randn(b, generator=g)
    return c


def test_landmarks_match_deep3d_formulas(model, deep3d_files):
    coeffs = random_coeffs(4)
    ours = model.landmarks(coeffs).double().numpy()
    ref = reference_landmarks(deep3d_files[1], coeffs.numpy())
    assert ours.shape == (4, 68, 2)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-3)


def test_regressor_matches_reference_forward(model, deep3d_files):
    state = deep3d_files[2]
    images = torch.rand(1, 3, 160, 160) * 2 - 1
    x = F.interpolate((images + 1) / 2, size=(224, 224), mode="bilinear", align_corners=False)
    backbone = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    feats = resnet50_forward(backbone, x)
    ref = torch.cat(
        [feats @ state[f"final_layers.{i}.weight"].flatten(1).T + state[f"final_layers.{i}.bias"] for i in range(7)], 1
    )
    with torch.no_grad():
        assert torch.allclose(model(images), ref, atol=1e-4)


def test_fuse_parts_and_gradients(model):
    src, tgt = random_coeffs(2, 1), random_coeffs(2, 2)
    fused = model.fuse(src, tgt)
    assert torch.equal(fused[:, :80], src[:, :80]) and torch.equal(fused[:, 80:], tgt[:, 80:])
    parts = model.parts(tgt)
    assert torch.allclose(parts["pose"][:, 0], torch.rad2deg(tgt[:, 225]))  # yaw = rotation about y
    assert torch.equal(parts["expression"], tgt[:, 80:144]) and parts["identity"].shape == (2, 80)
    coeffs = tgt.clone().requires_grad_(True)
    model.landmarks(coeffs).sum().backward()
    assert coeffs.grad[:, :144].abs().sum() > 0 and coeffs.grad[:, 224:227].abs().sum() > 0
    assert coeffs.grad[:, 144:224].abs().sum() == 0  # texture does not move landmarks
    images = (torch.rand(1, 3, 64, 64) * 2 - 1).requires_grad_(True)
    model.landmarks(model(images)).sum().backward()
    assert images.grad.abs().sum() > 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-3.2, 3.2), min_size=3, max_size=3))
def test_rotation_is_orthonormal(angles):
    r = rotation_matrices(torch.tensor([angles], dtype=torch.float64))[0]
    assert torch.allclose(r @ r.T, torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert abs(torch.det(r).item() - 1) < 1e-12


def test_bad_files_are_clear_errors(tmp_path, deep3d_files):
    folder = deep3d_files[0]
    with pytest.raises(CheckpointError, match="BFM_model_front.mat"):
        Deep3DShapeModel(folder / "epoch_20.pth", bfm=tmp_path / "nothing.mat")
    scipy_io.savemat(str(tmp_path / "partial.mat"), {"meanshape": np.zeros((1, 9))})
    with pytest.raises(CheckpointError, match="missing"):
        BFMLandmarks.from_mat(tmp_path / "partial.mat")
    torch.save({"net_recon": {"backbone.conv1.weight": torch.zeros(64, 3, 7, 7)}}, tmp_path / "e.pth")
    with pytest.raises(CheckpointError, match="missing"):
        Deep3DShapeModel(tmp_path / "e.pth", bfm=folder / "BFM" / "BFM_model_front.mat")
