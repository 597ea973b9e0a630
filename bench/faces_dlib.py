"""dlib-resnet against dlib itself on chips of scikit-image's astronaut photo: max |Δ| of the 128-d
descriptor, and CPU time per chip of both. Prints JSON. Needs `lsw-core[faces]` and scikit-image."""

import json
import time

import dlib
import numpy as np
import torch
from skimage import data

from lsw_faces.dlib_resnet import DlibResNetEmbedder, default_dat_path


def main() -> None:
    torch.set_num_threads(1)
    models = default_dat_path().parent
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    recognizer = dlib.face_recognition_model_v1(str(default_dat_path()))
    photo = data.astronaut()
    chips = []
    for image in (photo, np.ascontiguousarray(photo[:, ::-1])):
        shape = predictor(image, max(detector(image, 1), key=lambda r: r.area()))
        for padding in (0.1, 0.25, 0.4):
            chips.append(np.asarray(dlib.get_face_chip(image, shape, size=150, padding=padding)))
    t0 = time.perf_counter()
    reference = np.stack([np.asarray(recognizer.compute_face_descriptor(c)) for c in chips])
    t_dlib = (time.perf_counter() - t0) / len(chips)
    embedder = DlibResNetEmbedder()
    images = torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        embedder.descriptor(images[:1])
        t0 = time.perf_counter()
        ours = embedder.descriptor(images).double().numpy()
        t_ours = (time.perf_counter() - t0) / len(chips)
    print(
        json.dumps(
            {
                "chips": len(chips),
                "max_abs_diff": float(np.abs(ours - reference).max()),
                "descriptor_norm_mean": float(np.linalg.norm(reference, axis=1).mean()),
                "dlib_s_per_chip": round(t_dlib, 4),
                "torch_cpu_s_per_chip": round(t_ours, 4),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
