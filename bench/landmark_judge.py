"""The landmark judge (lsw_faces.landmarks) against the synthetic world's ground truth. Prints JSON.

    python bench/landmark_judge.py accuracy --n 400 --resolution 256    # pose and expression vs truth
    python bench/landmark_judge.py accuracy --landmarks truth            # the same fit on exact landmarks
    python bench/landmark_judge.py split --n 150                         # identity vs expression in the error
    python bench/landmark_judge.py boxes --n 400                         # where dlib's detector puts faces
    python bench/landmark_judge.py dcgan --n 200                         # the same on the 64-px DCGAN
    python bench/landmark_judge.py accuracy --landmarks facemesh         # MediaPipe Face Mesh's landmarks
    python bench/landmark_judge.py facemesh-map --n 400 --write          # which mesh vertex is which iBUG point

`accuracy` draws faces from the `synthface` generator's prior (z ~ N(0, I), ψ = 1), renders them,
and compares the judge's pose (per axis: mean and 90th percentile of |error|, and the slope of
judged on true angle) and expression (over random pairs: Pearson and Spearman correlation of the
judge's expression error with the L2 distance of the true expression coefficients and with the mean
landmark displacement that coefficient difference causes) with the truth. `split` renders pairs
that differ in one thing only (identity, expression, pose, or appearance) and reports the judge's
mean errors for each kind. Needs `lsw-core[faces]`; `boxes` also scikit-image; `dcgan` the dcgan-faces plugin.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

import lsw_core
from lsw_faces.landmarks import FEATURE_NAMES, LandmarkJudge, expression_error, facemesh, pose_error
from lsw_faces.landmarks.facemesh import MESH_VERTICES, FaceMesh
from lsw_faces.landmarks.judge import measure_landmarks
from lsw_synthface import shape3d, world


def _faces(n: int, resolution: int, seed: int):
    generator = lsw_core.load_generator("synthface", resolution=resolution)
    # z from seed 1000 + seed: seed 0 would repeat the mapping network's own first weights (drawn from
    # seed 0), which sends every face to one extreme pose; seed 1 drew the samples its constants came from
    z = torch.randn(n, 512, generator=torch.Generator().manual_seed(1000 + seed))
    with torch.no_grad():
        ws = generator.mapping(z)
        images = torch.cat([generator.synthesis(chunk) for chunk in ws.split(32)])
    return images, generator.ground_truth(ws)


def _round(x, digits=3):
    return [round(float(v), digits) for v in np.atleast_1d(x)]


def _pose_report(judged: torch.Tensor, truth: torch.Tensor) -> dict:
    err = (judged - truth).abs().numpy()
    if len(err) == 0:
        return {"faces": 0}
    slopes = [np.polyfit(truth[:, k].numpy(), judged[:, k].numpy(), 1)[0] for k in range(3)] if len(err) > 2 else []
    return {
        "faces": len(err),
        "mean_abs_deg": _round(err.mean(0), 2),
        "p90_abs_deg": _round(np.percentile(err, 90, axis=0), 2),
        "slope": _round(slopes, 2),
    }


REGIONS = {
    "jaw": range(0, 17),
    "brows": range(17, 27),
    "nose": range(27, 36),
    "eyes": range(36, 48),
    "mouth": range(48, 68),
}


def _landmark_error(points: torch.Tensor, truth: dict, placed: torch.Tensor, resolution: int) -> dict:
    """Mean distance of judged from true landmarks in inter-ocular distances, overall and per region."""
    true = world.project_landmarks(truth["identity"], truth["expression"], truth["pose"])[placed] * resolution
    iod = (true[:, 36:42].mean(1) - true[:, 42:48].mean(1)).norm(dim=1, keepdim=True)
    err = (points.double() - true.double()).norm(dim=2) / iod
    return {
        "all": round(float(err.mean()), 3),
        **{k: round(float(err[:, list(r)].mean()), 3) for k, r in REGIONS.items()},
    }


def expression_displacement(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean distance (head units) the 68 landmarks move, in the frontal head frame, between expression
    coefficients a and b [P, 8] (identity and pose equal)."""
    basis = shape3d.EXPRESSION_BASIS[:, : shape3d.N_LANDMARKS].to(a.dtype)
    return torch.einsum("pk,kic->pic", a - b, basis).norm(dim=-1).mean(1)


def accuracy(args) -> dict:
    images, truth = _faces(args.n, args.resolution, args.seed)
    judge = LandmarkJudge(box=args.box, projection=args.projection, work_size=args.work_size)
    start = time.perf_counter()
    if args.landmarks == "truth":
        points = world.project_landmarks(truth["identity"], truth["expression"], truth["pose"]) * args.resolution
        size = (args.resolution, args.resolution)
        pose, expression, _ = measure_landmarks(points.double().numpy(), size, projection=args.projection)
        found = placed = torch.ones(args.n, dtype=torch.bool)
        landmark_error = None
    elif args.landmarks == "facemesh":
        points, found = FaceMesh(args.work_size).ibug(images)
        pose, expression, _ = measure_landmarks(points, images.shape[-2:], projection=args.projection)
        placed = found
        landmark_error = _landmark_error(torch.from_numpy(points[found.numpy()]), truth, placed, args.resolution)
    else:
        m = judge.measure(images)
        pose, expression, found, placed = m.pose, m.expression, m.found, m.placed
        landmark_error = _landmark_error(m.landmarks[placed], truth, placed, args.resolution)
    seconds = (time.perf_counter() - start) / args.n
    ok = placed
    gen = torch.Generator().manual_seed(args.seed + 1)
    i, j = torch.randint(0, args.n, (2, args.pairs), generator=gen)
    keep = (i != j) & ok[i] & ok[j]
    i, j = i[keep], j[keep]
    judged = expression_error(expression[i], expression[j]).numpy()
    coeff = (truth["expression"][i] - truth["expression"][j]).norm(dim=1).numpy()
    moved = expression_displacement(truth["expression"][i], truth["expression"][j]).numpy()
    e, t = expression[ok].numpy(), truth["expression"][ok].numpy()
    per_feature = {}
    for k, name in enumerate(FEATURE_NAMES):
        r = [pearsonr(e[:, k], t[:, c])[0] for c in range(t.shape[1])]
        best = int(np.argmax(np.abs(r)))
        per_feature[name] = {"coefficient": shape3d.EXPRESSION_NAMES[best], "r": round(float(r[best]), 3)}
    return {
        "settings": {k: v for k, v in vars(args).items() if k != "command"},
        "found_rate": round(float(found.float().mean()), 3),
        "not_found": int((~found).sum()),
        "placed_rate": round(float(placed.float().mean()), 3),
        "landmark_error_iod": landmark_error,
        "true_pose_std_deg": _round(truth["pose"].std(0).numpy(), 1),
        "pose": {
            "all": _pose_report(pose[ok], truth["pose"][ok]),
            "found": _pose_report(pose[ok & found], truth["pose"][ok & found]),
            "not_found": _pose_report(pose[ok & ~found], truth["pose"][ok & ~found]),
            "mean_pose_error_deg": round(float(pose_error(pose[ok], truth["pose"][ok]).mean()), 2),
        },
        "expression": {
            "pairs": len(judged),
            "pearson_vs_coefficient_l2": round(float(pearsonr(judged, coeff)[0]), 3),
            "spearman_vs_coefficient_l2": round(float(spearmanr(judged, coeff)[0]), 3),
            "pearson_vs_landmark_displacement": round(float(pearsonr(judged, moved)[0]), 3),
            "spearman_vs_landmark_displacement": round(float(spearmanr(judged, moved)[0]), 3),
            "mean_error": round(float(judged.mean()), 4),
            "per_feature_best_coefficient": per_feature,
        },
        "judge_seconds_per_image": round(seconds, 4),
    }


def split(args) -> dict:
    """Pairs of faces that differ in one group of parameters; the judge's mean errors per kind, and
    each expression feature's mean |difference|."""
    gen = torch.Generator().manual_seed(1000 + args.seed)
    base, other = world.sample_params(args.n, gen), world.sample_params(args.n, gen)
    appearance = ("skin", "hair", "hair_shape", "eyes", "background", "background2", "pattern", "light", "glasses")
    kinds = {
        "identity": ("identity",),
        "expression": ("expression",),
        "pose": ("pose",),
        "appearance": appearance,
        "identity_and_expression": ("identity", "expression"),
        "everything": ("identity", "expression", "pose", *appearance),
    }
    judge = LandmarkJudge(box=args.box, projection=args.projection, work_size=args.work_size)

    def measure(params):
        if args.landmarks == "truth":
            points = world.project_landmarks(params.identity, params.expression, params.pose) * args.resolution
            size = (args.resolution, args.resolution)
            pose, expression, _ = measure_landmarks(points.double().numpy(), size, projection=args.projection)
            return (
                pose,
                expression,
                torch.ones(len(params), dtype=torch.bool),
                torch.ones(len(params), dtype=torch.bool),
            )
        with torch.no_grad():
            m = judge.measure(torch.cat([world.render(p, args.resolution) for p in _chunks(params)]))
        return m.pose, m.expression, m.found, m.placed

    pose1, expr1, found1, placed1 = measure(base)
    out = {"settings": {k: v for k, v in vars(args).items() if k != "command"}, "pairs": args.n}
    for kind, fields in kinds.items():
        changed = base.replace(**{f: getattr(other, f) for f in fields})
        pose2, expr2, found2, placed2 = measure(changed)
        ok = placed1 & placed2
        per_feature = (expr1[ok] - expr2[ok]).abs().mean(0)
        out[kind] = {
            "expression_error": round(float(expression_error(expr1[ok], expr2[ok]).mean()), 4),
            "pose_error_deg": round(float(pose_error(pose1[ok], pose2[ok]).mean()), 2),
            "true_pose_change_deg": round(float(pose_error(base.pose[ok], changed.pose[ok]).mean()), 2),
            "true_expression_l2": round(float((base.expression - changed.expression)[ok].norm(dim=1).mean()), 3),
            "not_found": int((~found2).sum()),
            "per_feature": dict(zip(FEATURE_NAMES, _round(per_feature.numpy(), 4))),
        }
    out["first_not_found"] = int((~found1).sum())
    return out


def _chunks(params, size: int = 32):
    return [params.map(lambda t, s=s: t[s : s + size]) for s in range(0, len(params), size)]


def boxes(args) -> dict:
    """Mean dlib detection box (fractions of the image) on renders, on renders re-cropped the FFHQ way
    from their true landmarks, and on the astronaut photo FFHQ-aligned."""
    from skimage import data

    from lsw_align.ffhq import align_ffhq
    from lsw_faces.landmarks.dlib68 import load_models, to_uint8

    _, detector, predictor = load_models()
    images, truth = _faces(args.n, args.resolution, args.seed)
    pixels, _ = to_uint8(images, args.resolution)
    marks = world.project_landmarks(truth["identity"], truth["expression"], truth["pose"]).numpy() * args.resolution

    def mean_box(crops) -> dict:
        found = []
        for crop in crops:
            rects = detector(np.ascontiguousarray(crop), 0)
            if len(rects):
                r = max(rects, key=lambda r: r.area())
                size = crop.shape[1], crop.shape[0]
                found.append(
                    [r.left() / size[0], r.top() / size[1], (r.right() + 1) / size[0], (r.bottom() + 1) / size[1]]
                )
        return {
            "found": len(found),
            "of": len(crops),
            "mean": _round(np.mean(found, 0)),
            "std": _round(np.std(found, 0)),
        }

    photo = data.astronaut()
    rect = max(detector(photo, 1), key=lambda r: r.area())
    lm = np.array([[p.x + 0.5, p.y + 0.5] for p in predictor(photo, rect).parts()])
    astronaut = {}
    for res in (256, 512, 1024):
        astronaut[res] = mean_box([align_ffhq(photo, lm, res).image])["mean"]
    return {
        "renders": mean_box(pixels),
        "renders_ffhq_aligned": mean_box([align_ffhq(p, m, args.resolution).image for p, m in zip(pixels, marks)]),
        "astronaut_ffhq_aligned": astronaut,
    }


def dcgan(args) -> dict:
    """The 64-px DCGAN's samples (needs the dcgan-faces plugin and gan-face-generate): how often dlib
    finds a face, the median detection box, and how far landmarks placed from each aligned box are
    from those placed from the detector's own box (inter-ocular distances; pose in degrees)."""
    from lsw_faces.landmarks.dlib68 import ALIGNED_BOXES, Dlib68

    generator = lsw_core.load_generator("dcgan-faces")
    with torch.no_grad():
        z = torch.randn(args.n, generator.z_dim, generator=torch.Generator().manual_seed(1000 + args.seed))
        images = torch.cat([generator.synthesis(chunk) for chunk in generator.mapping(z).split(50)])
    detect = Dlib68(box="detect", work_size=args.work_size)
    marks = detect(images)
    found = marks.found
    ref = marks.points[found]
    iod = np.linalg.norm(ref[:, 36:42].mean(1) - ref[:, 42:48].mean(1), axis=1)
    ref_pose, _, _ = measure_landmarks(marks.points, images.shape[-2:])
    out = {"samples": args.n, "found": int(found.sum()), "median_box": detect.median_box(images)[0]}
    out["mean_box"] = _round((marks.boxes[found] / images.shape[-1]).mean(0))
    for name, box in ALIGNED_BOXES.items():
        placed = Dlib68(box="aligned", aligned_box=box, work_size=args.work_size)(images)
        pose, _, _ = measure_landmarks(placed.points, images.shape[-2:])
        out[f"aligned_{name}"] = {
            "landmark_difference_iod": round(
                float((np.linalg.norm(placed.points[found] - ref, axis=2).mean(1) / iod).mean()), 4
            ),
            "pose_difference_deg": _round((pose[found] - ref_pose[found]).abs().mean(0).numpy(), 2),
        }
    return out


def facemesh_map(args) -> dict:
    """For each of the 68 iBUG points, the Face Mesh vertex nearest it on average (in inter-ocular
    distances) over the synthetic world's renders with their exact landmarks; `--write` stores the
    table where the facemesh judge reads it."""
    images, truth = _faces(args.n, args.resolution, args.seed)
    mesh, found = FaceMesh(args.work_size).mesh(images)
    found = found.numpy()
    true = (world.project_landmarks(truth["identity"], truth["expression"], truth["pose"]) * args.resolution).double()
    true, mesh = true.numpy()[found], mesh[found]
    iod = np.linalg.norm(true[:, 36:42].mean(1) - true[:, 42:48].mean(1), axis=1)
    distance = np.zeros((68, MESH_VERTICES))
    for t, m, d in zip(true, mesh, iod):
        distance += np.linalg.norm(t[:, None] - m[None], axis=2) / d
    distance /= len(true)
    vertex = distance.argmin(1)
    table = {
        "mesh_vertex": [int(v) for v in vertex],
        "mean_distance_iod": _round(distance[np.arange(68), vertex], 3),
        "faces": int(found.sum()),
        "derived_by": f"bench/landmark_judge.py facemesh-map --n {args.n} --resolution {args.resolution} "
                      f"--seed {args.seed}",
    }  # fmt: skip
    if args.write:
        path = Path(facemesh.__file__).with_name("facemesh68.json")
        path.write_text(json.dumps(table) + "\n")
    return {"faces": args.n, "found": int(found.sum()), **table}


def main() -> None:
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("accuracy", "split", "boxes", "dcgan", "facemesh-map"))
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--box", default="detect-or-aligned")
    parser.add_argument("--projection", default="weak")
    parser.add_argument("--work-size", type=int, default=256)
    parser.add_argument("--landmarks", choices=("dlib", "truth", "facemesh"), default="dlib")
    parser.add_argument("--write", action="store_true", help="facemesh-map: store the table for the judge")
    args = parser.parse_args()
    print(
        json.dumps(
            {"accuracy": accuracy, "split": split, "boxes": boxes, "dcgan": dcgan, "facemesh-map": facemesh_map}[
                args.command
            ](args),
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
