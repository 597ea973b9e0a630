"""Measure the fixed FFHQ → ArcFace crop of the `sface` embedder (lsw_sface.alignment.FFHQ_*).

Renders FFHQ-aligned 1024-px faces with the MobileStyleGAN of the `random-face` wheel (OpenVINO),
finds dlib's 68 landmarks on each, reduces them to ArcFace's five points, divides by the image size,
and fits one similarity from the normalised eye centres and mouth corners (the points FFHQ's
alignment fixes; all faces together) onto those of ArcFace's 112×112 template; the nose tip, which
moves with the head's yaw and pitch, is left out of the fit and reported with the rest. Prints JSON: the fit (scale, angle, shift), the mean normalised five points, and the
residuals in crop pixels of the fitted crop and of the crop the module currently uses.

    pip install --no-deps random-face && pip install openvino 'lsw-core[faces]'
    python bench/sface_ffhq_crop.py --faces 48 --threads 2
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

from lsw_align.detector import DlibFaceDetector
from lsw_core.geometry import apply_affine
from lsw_sface.alignment import ARCFACE_TEMPLATE, ffhq_similarity, fit_similarity, five_points
from lsw_sface.reference_faces import mobilestylegan_faces


def residuals(matrix: np.ndarray, points: np.ndarray) -> dict:
    """Per-point distances [faces, 5] in crop pixels of the normalised points mapped by `matrix`."""
    err = np.linalg.norm(apply_affine(matrix, points.reshape(-1, 2)).reshape(points.shape) - ARCFACE_TEMPLATE, axis=-1)
    return {
        "rms_px": round(float(np.sqrt((err**2).mean())), 3),
        "mean_px_per_point": [round(float(e), 3) for e in err.mean(0)],
        "max_eye_px": round(float(err[:, :2].max()), 3),
        "max_mouth_px": round(float(err[:, 3:].max()), 3),
        "max_px": round(float(err.max()), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=48)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--truncation", type=float, default=0.7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    detector = DlibFaceDetector(upsample=0)
    normalised, missed = [], []
    for seed in range(args.first_seed, args.first_seed + args.faces):
        face = mobilestylegan_faces([seed], truncation=args.truncation, threads=args.threads)[0]
        found = detector.detect(face)
        if not found:
            missed.append(seed)
            continue
        normalised.append(five_points(found[0].landmarks) / np.array(face.shape[1::-1], np.float64))
    points = np.stack(normalised)  # [faces, 5, 2] in units of the image side
    fitted = [0, 1, 3, 4]  # eyes and mouth corners
    fit = fit_similarity(points[:, fitted].reshape(-1, 2), np.tile(ARCFACE_TEMPLATE[fitted], (len(points), 1)))
    scale = float(np.sqrt(abs(np.linalg.det(fit[:, :2]))))
    print(
        json.dumps(
            {
                "faces": len(points),
                "missed_seeds": missed,
                "truncation": args.truncation,
                "mean_points_normalised": np.round(points.mean(0), 4).tolist(),
                "std_points_normalised": np.round(points.std(0), 4).tolist(),
                "fit": {
                    "scale_px_per_side": round(scale, 3),
                    "angle_deg": round(math.degrees(math.atan2(fit[1, 0], fit[0, 0])), 4),
                    "shift_px": np.round(fit[:, 2], 3).tolist(),
                },
                "fitted_crop": residuals(fit, points),
                "module_crop": residuals(ffhq_similarity(1, 1), points),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
