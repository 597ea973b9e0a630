"""Paste-back options on a real photo with a known colour drift: the astronaut's FFHQ crop (dlib,
256 px) with its exposure and white balance changed stands in for a swap whose generator drew the
right face in the wrong light. For each blend × colour match: the mean CIE76 ΔE between the pasted
face and the original photo inside the face box (colour drift left), the mean gradient of the
change along the seam (where the mask is partial; lower is a less visible seam), and milliseconds
per paste, with the load average. Prints one JSON object.

Usage: python bench/paste_blend.py [--repeats 3] [--gain 1.25,1.0,0.8] [--gamma 0.85]
(needs the `faces` and `test` extras: dlib and scikit-image's sample photo)
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gain", default="1.25,1.0,0.8", help="per-channel gain of the stand-in swap")
    parser.add_argument("--gamma", type=float, default=0.85)
    args = parser.parse_args()

    from skimage.data import astronaut

    from lsw_core.geometry import apply_affine, pixel_centres, sample
    from lsw_core.photo import PasteConfig, paste_back
    from lsw_core.photo.blend import BLENDS, COLOR_MATCHES, rgb_to_lab
    from lsw_core.photo.paste import face_mask
    from lsw_core.plugins import load_aligner

    photo = astronaut()
    face = load_aligner("dlib-ffhq").align(photo, 256)
    gain = np.array([float(g) for g in args.gain.split(",")])
    drifted = np.clip(255 * (face.image / 255) ** args.gamma * gain, 0, 255).astype(np.uint8)

    x0, y0, x1, y1 = face.box
    h, w = photo.shape[:2]
    points = apply_affine(face.to_aligned, pixel_centres(w, h).reshape(-1, 2)).reshape(h, w, 2)
    alpha = sample(face_mask(256), points, outside="zero")
    seam = (alpha > 0.02) & (alpha < 0.98)
    original_lab = rgb_to_lab(photo[y0:y1, x0:x1])

    results = {}
    load_before = os.getloadavg()[0]
    for blend in BLENDS:
        for match in COLOR_MATCHES:
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                out = paste_back(photo, drifted, face, config=PasteConfig(blend=blend, color_match=match))
                times.append(time.perf_counter() - t0)
            delta_e = np.linalg.norm(rgb_to_lab(out[y0:y1, x0:x1]) - original_lab, axis=-1).mean()
            change = out.astype(np.float64) - photo
            gy, gx = np.gradient(change, axis=(0, 1))
            seam_gradient = np.hypot(gx, gy).mean(axis=-1)[seam].mean()
            results[f"{blend}/{match}"] = {
                "delta_e_face": round(float(delta_e), 2),
                "seam_gradient": round(float(seam_gradient), 3),
                "ms_per_paste": round(1000 * min(times), 1),
            }
    print(json.dumps({"photo": f"astronaut {w}x{h}, crop 256", "gain": gain.tolist(), "gamma": args.gamma,
                      "results": results, "load_average": [load_before, os.getloadavg()[0]]}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
