"""Measure the fixed FFHQ box of dlib's face chip (`dlib-resnet` with `crop="ffhq"`, lsw_faces.dlib_resnet.FFHQ_CHIP).

Renders FFHQ-aligned faces with the `mobilestylegan` backend at the training truncation (ψ = 0.5 on
its first 10 rows), finds dlib's face and 68 landmarks on each, and asks dlib for the 150-px chip it
would cut (`get_face_chip_details`, padding 0.25): prints JSON with the mean chip box as fractions
of the image side (left, top, right, bottom), its spread, the mean rotation, and the faces dlib missed.

    pip install --no-deps random-face && pip install 'lsw-core[faces]'
    python bench/dlib_ffhq_chip.py --faces 32 --threads 1
"""

from __future__ import annotations

import argparse
import json

import dlib
import numpy as np
import torch

from lsw_core import load_generator
from lsw_faces.dlib_resnet import CHIP_SIZE
from lsw_faces.landmarks.dlib68 import default_predictor_path, to_uint8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(default_predictor_path()))
    G = load_generator("mobilestylegan").eval()
    z = torch.randn(args.faces, G.z_dim, generator=torch.Generator().manual_seed(args.seed))
    boxes, angles, missed = [], [], 0
    for i in range(args.faces):
        with torch.no_grad():
            image = G.synthesis(G.mapping(z[i : i + 1], truncation_psi=0.5, truncation_cutoff=10), noise_mode="const")
        pixels = to_uint8(image, image.shape[-1])[0][0]
        found = detector(pixels, 0)
        if not found:
            missed += 1
            continue
        chip = dlib.get_face_chip_details(predictor(pixels, found[0]), size=CHIP_SIZE, padding=0.25)
        r, side = chip.rect, pixels.shape[0]
        boxes.append([r.left() / side, r.top() / side, (r.right() + 1) / side, (r.bottom() + 1) / side])
        angles.append(np.degrees(chip.angle))
    boxes = np.array(boxes)
    print(json.dumps({"faces": len(boxes), "missed": missed, "box_mean": np.round(boxes.mean(0), 4).tolist(),
                      "box_std": np.round(boxes.std(0), 4).tolist(), "angle_deg_mean": round(float(np.mean(angles)), 3),
                      "angle_deg_std": round(float(np.std(angles)), 3)}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
