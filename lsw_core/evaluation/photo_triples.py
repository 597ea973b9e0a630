"""Evaluation of face swaps of real photos: a folder of (source, target, swap) triples measured as
in the FaceForensics++ protocol the paper follows (Zhu et al. 2020; Xu et al. 2022).

- ID retrieval: a swap is correct when, among all original faces (every distinct source and
  target image), the one nearest to it in the evaluation embedder's space (cosine) has the swap's
  source identity. The evaluation embedder should differ from the one the mixer was trained with.
- Expression: mean squared error between the shape model's expression coefficients of swap and target.
- Pose: mean Euclidean distance between (yaw, pitch, roll) of swap and target, in degrees.

The same metrics are reported for the baselines "return the target" and "return the source".

Folder layouts (images: PNG, JPEG, ...; aligned faces, any size):
  DIR/source/NAME, DIR/target/NAME, DIR/swap/NAME     (matched by file stem), or
  DIR/<triple>/source.*, DIR/<triple>/target.*, DIR/<triple>/swap.*
Originals are the same identity when their files are byte-identical; an optional
DIR/identities.json maps source/target paths (relative to DIR, "/"-separated) to identity labels,
e.g. the video a frame comes from.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from lsw_core.errors import LswError
from lsw_core.evaluation.metrics import id_retrieval, mean_squared_error, pose_error_deg
from lsw_core.images import list_images, load_image
from lsw_core.interfaces import IdentityEmbedder, ShapeModel

ROLES = ("source", "target", "swap")


def find_triples(folder: str | os.PathLike) -> list[dict[str, Path]]:
    """The (source, target, swap) image paths in `folder`, in a stable order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LswError(f"triples: expected a folder, got {str(folder)!r}")
    if all((folder / role).is_dir() for role in ROLES):
        files = {role: {p.stem: p for p in list_images(folder / role)} for role in ROLES}
        names = sorted(files["swap"])
        missing = [f"{role}/{n}" for n in names for role in ("source", "target") if n not in files[role]]
        if missing:
            raise LswError(f"{folder}: every swap needs a source and a target of the same name; missing {missing[:5]}")
        triples = [{role: files[role][n] for role in ROLES} for n in names]
    else:
        triples = []
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            found = {p.stem: p for p in list_images(sub) if p.stem in ROLES}
            if len(found) == 3:
                triples.append(found)
            elif found:
                raise LswError(f"{sub}: expected source, target and swap images, found {sorted(found)}")
    if not triples:
        raise LswError(
            f"{folder}: no triples found; expected source/, target/, swap/ subfolders with matching file names, "
            "or one subfolder per triple holding source.*, target.*, swap.*"
        )
    return triples


def _identity_labels(folder: Path, triples: list[dict[str, Path]]) -> tuple[list[int], list[int]]:
    """Integer identity labels of each triple's source and target."""
    mapping: dict[str, str] = {}
    if (folder / "identities.json").is_file():
        try:
            mapping = {str(k): str(v) for k, v in json.loads((folder / "identities.json").read_text()).items()}
        except (ValueError, AttributeError) as exc:
            raise LswError(f"{folder / 'identities.json'}: expected a JSON object of path → label ({exc})") from None
    labels: dict[str, int] = {}

    def label(path: Path) -> int:
        key = path.relative_to(folder).as_posix()
        name = "label:" + mapping[key] if key in mapping else "sha1:" + hashlib.sha1(path.read_bytes()).hexdigest()
        return labels.setdefault(name, len(labels))

    return [label(t["source"]) for t in triples], [label(t["target"]) for t in triples]


@torch.no_grad()
def _measure(path: Path, embedder: IdentityEmbedder, shape_model: ShapeModel, device: torch.device) -> dict:
    image = load_image(path).to(device)
    parts = shape_model.parts(shape_model(image))
    return {"embedding": embedder(image)[0], "expression": parts["expression"][0], "pose": parts["pose"][0]}


def evaluate_triples(
    folder: str | os.PathLike,
    embedder: IdentityEmbedder,
    shape_model: ShapeModel,
    *,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Measure the (source, target, swap) triples in `folder` (see the module docstring): ID
    retrieval, expression error and pose error of the swaps and of the two baselines."""
    folder = Path(folder)
    triples = find_triples(folder)
    device = torch.device(device)
    embedder, shape_model = embedder.to(device).eval(), shape_model.to(device).eval()
    cache: dict[Path, dict] = {}
    measured = {role: {"embedding": [], "expression": [], "pose": []} for role in ROLES}
    for triple in triples:
        for role in ROLES:
            path = triple[role]
            if path not in cache:
                cache[path] = _measure(path, embedder, shape_model, device)
            for key, value in cache[path].items():
                measured[role][key].append(value.float().cpu())
    m = {role: {k: torch.stack(v) for k, v in d.items()} for role, d in measured.items()}
    source_ids, target_ids = _identity_labels(folder, triples)
    # Gallery of all original faces: each triple's source first (as id_retrieval expects), then
    # every target image that is not also a source.
    source_paths = {t["source"].resolve() for t in triples}
    extra: list[int] = []
    for i, t in enumerate(triples):
        path = t["target"].resolve()
        if path not in source_paths:
            source_paths.add(path)
            extra.append(i)
    gallery = torch.cat([m["source"]["embedding"], m["target"]["embedding"][extra]])
    gallery_ids = torch.tensor(source_ids + [target_ids[i] for i in extra])

    def scores(result: str) -> dict[str, float]:
        return {
            "id_retrieval": id_retrieval(gallery, m[result]["embedding"], gallery_ids),
            "expression_error": mean_squared_error(m[result]["expression"], m["target"]["expression"]),
            "pose_error_deg": pose_error_deg(m[result]["pose"], m["target"]["pose"]),
        }

    return {
        **scores("swap"),
        "n_triples": len(triples),
        "n_gallery": len(gallery),
        "method": "estimated",
        "embedder": type(embedder).__name__,
        "shape_model": type(shape_model).__name__,
        "baselines": {"return_target": scores("target"), "return_source": scores("source")},
    }


def markdown_table(result: dict[str, Any]) -> str:
    """The result of `evaluate_triples` (or of a mixer evaluation) as a markdown table, one row for
    the swaps and one per baseline, in the paper's Table 2 units (ID in %)."""
    rows = [("swap", result)] + [(name.replace("_", " "), r) for name, r in result.get("baselines", {}).items()]
    lines = ["| | ID retrieval ↑ | Expression ↓ | Pose (°) ↓ |", "|---|---:|---:|---:|"]
    for name, r in rows:
        lines.append(
            f"| {name} | {100 * r['id_retrieval']:.2f}% | {r['expression_error']:.4f} | {r['pose_error_deg']:.2f} |"
        )
    n = result.get("n_triples", result.get("n_pairs"))
    notes = [f"{n} swap{'' if n == 1 else 's'}" if n is not None else None]
    if result.get("embedder"):
        notes.append(f"identity embedder: {result['embedder']}")
    if result.get("shape_model"):
        notes.append(f"shape model: {result['shape_model']}")
    return "\n".join(lines) + "\n\n" + "; ".join(x for x in notes if x) + "\n"
