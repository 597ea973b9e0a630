"""Real-face evaluation of (source, target, swap) triples and the `lsw eval --triples` command.

The embedder and shape model used here are small, exact functions of the pixels (registered as a
throwaway plugin), so every expected number can be worked out independently in the test."""

import importlib.util
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

from lsw_core import IdentityEmbedder, LswError, ShapeModel, hookimpl
from lsw_core.cli.evaluate import evaluate as lsw_eval
from lsw_core.evaluation.photo_triples import evaluate_triples, find_triples, markdown_table
from lsw_core.plugins import plugin_manager


class PixelEmbedder(IdentityEmbedder):
    """The 8×8 thumbnail as the identity vector."""

    dim = 192

    def _embed(self, images):
        return F.adaptive_avg_pool2d(images, 8).flatten(1)


class QuadrantShape(ShapeModel):
    """4×4 mean colours as coefficients: rows 0–1 'identity', rows 2–3 'expression', three
    colour means as 'pose' (×90 degrees)."""

    num_coeffs = 48

    def _regress(self, images):
        return F.adaptive_avg_pool2d(images, 4).flatten(1)

    def fuse(self, source, target):
        return torch.cat([source[:, :24], target[:, 24:]], dim=1)

    def landmarks(self, coeffs):
        return coeffs[:, :34].reshape(-1, 17, 2).repeat(1, 4, 1)

    def parts(self, coeffs):
        return {"identity": coeffs[:, :24], "expression": coeffs[:, 24:], "pose": coeffs[:, :3] * 90}


class ThrowawayPlugin:
    @hookimpl
    def register_identity_embedders(self, register):
        register("test-pixels", lambda checkpoint=None, **o: PixelEmbedder())

    @hookimpl
    def register_shape_models(self, register):
        register("test-quadrants", lambda checkpoint=None, **o: QuadrantShape())


@pytest.fixture
def plugin():
    pm = plugin_manager()
    pm.register(ThrowawayPlugin(), name="faces-test")
    yield
    pm.unregister(name="faces-test")


def random_face(seed, size=32):
    return np.random.default_rng(seed).integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def write_role_folders(root, sources, targets, swaps):
    for role, arrays in (("source", sources), ("target", targets), ("swap", swaps)):
        (root / role).mkdir(parents=True)
        for i, a in enumerate(arrays):
            Image.fromarray(a).save(root / role / f"{i:03d}.png")


def as_tensor(arrays):
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1


def test_swaps_equal_to_sources_and_targets(tmp_path):
    sources = [random_face(i) for i in range(4)]
    targets = [random_face(10 + i) for i in range(4)]
    write_role_folders(tmp_path, sources, targets, swaps=sources)
    result = evaluate_triples(tmp_path, PixelEmbedder(), QuadrantShape())
    assert result["n_triples"] == 4 and result["n_gallery"] == 8
    assert result["id_retrieval"] == 1.0
    base = result["baselines"]
    # The targets are in the gallery of original faces, so "return the target" retrieves them.
    assert base["return_target"]["id_retrieval"] == 0.0
    assert base["return_target"]["expression_error"] == 0 and base["return_target"]["pose_error_deg"] == 0
    shape = QuadrantShape()
    s, t = shape.parts(shape(as_tensor(sources))), shape.parts(shape(as_tensor(targets)))
    expected_exp = (s["expression"] - t["expression"]).pow(2).mean(dim=1).mean().item()
    expected_pose = (s["pose"] - t["pose"]).norm(dim=1).mean().item()
    assert result["expression_error"] == pytest.approx(expected_exp, rel=1e-5)
    assert result["pose_error_deg"] == pytest.approx(expected_pose, rel=1e-5)
    assert base["return_source"] == {k: result[k] for k in ("id_retrieval", "expression_error", "pose_error_deg")}


def test_triple_subfolders_shared_sources_and_identity_labels(tmp_path):
    faces = [random_face(i) for i in range(3)]
    layout = {"a": (0, 1, 1), "b": (0, 2, 0), "c": (1, 2, 2)}  # source, target, swap (indices into faces)
    for name, idx in layout.items():
        (tmp_path / name).mkdir()
        for role, i in zip(("source", "target", "swap"), idx):
            Image.fromarray(faces[i]).save(tmp_path / name / f"{role}.png")
    assert [t["swap"].parent.name for t in find_triples(tmp_path)] == ["a", "b", "c"]
    # Swap a looks like face 1, which is also c's source: by content, a different identity from a's.
    result = evaluate_triples(tmp_path, PixelEmbedder(), QuadrantShape())
    assert result["id_retrieval"] == pytest.approx(1 / 3)  # only b's swap (face 0 = its source) is right
    # Declaring faces 0 and 1 one person (two frames of one video) makes a's swap right as well.
    labels = {"a/source.png": "p", "b/source.png": "p", "c/source.png": "p", "a/target.png": "p"}
    (tmp_path / "identities.json").write_text(json.dumps(labels))
    assert evaluate_triples(tmp_path, PixelEmbedder(), QuadrantShape())["id_retrieval"] == pytest.approx(2 / 3)


def test_folder_errors_are_one_clear_message(tmp_path):
    with pytest.raises(LswError, match="no triples found"):
        find_triples(tmp_path)
    write_role_folders(tmp_path, [random_face(0)], [], [random_face(1)])
    with pytest.raises(LswError, match="missing.*target/000"):
        find_triples(tmp_path)


def test_markdown_table():
    row = {"id_retrieval": 0.9336, "expression_error": 0.0673, "pose_error_deg": 4.06}
    text = markdown_table({**row, "n_triples": 5, "embedder": "dlib-resnet", "baselines": {"return_target": row}})
    lines = text.splitlines()
    assert lines[0].startswith("| | ID retrieval")
    assert lines[2] == "| swap | 93.36% | 0.0673 | 4.06 |" and lines[3].startswith("| return target |")
    assert "5 swaps; identity embedder: dlib-resnet" in text


def test_lsw_eval_triples(tmp_path, plugin):
    sources, targets = [random_face(i) for i in range(3)], [random_face(5 + i) for i in range(3)]
    write_role_folders(tmp_path / "t", sources, targets, swaps=sources)
    runner = CliRunner()
    args = ["--triples", str(tmp_path / "t"), "--embedder", "test-pixels", "--shape-model", "test-quadrants"]
    res = runner.invoke(lsw_eval, [*args, "--out", str(tmp_path / "r.json")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    assert result["id_retrieval"] == 1.0 and result["embedder"] == "test-pixels"
    assert json.loads((tmp_path / "r.json").read_text()) == result
    assert "| swap | 100.00% |" in (tmp_path / "t" / "metrics.md").read_text()
    again = runner.invoke(lsw_eval, args)  # the table is there now: replaced only when asked
    assert "metrics.md: exists; pass --overwrite" in str(again.exception)  # (the `lsw` group prints it as one line)
    same = runner.invoke(lsw_eval, [*args, "--overwrite", "--training-embedder", "test-pixels"])
    assert same.exit_code == 2 and "trained with" in same.output
    both = runner.invoke(lsw_eval, [*args, "--mixer", str(tmp_path)])
    assert both.exit_code == 2 and "exactly one of --mixer and --triples" in both.output


@pytest.mark.skipif(
    importlib.util.find_spec("face_recognition_models") is None, reason="needs face-recognition-models (dlib's .dat)"
)
def test_lsw_eval_triples_defaults_to_dlib_resnet(tmp_path, plugin):
    sources, targets = [random_face(i, 64) for i in range(2)], [random_face(5 + i, 64) for i in range(2)]
    write_role_folders(tmp_path, sources, targets, swaps=sources)
    args = ["--triples", str(tmp_path), "--shape-model", "test-quadrants", "--table", str(tmp_path / "t.md")]
    res = CliRunner().invoke(lsw_eval, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    result = json.loads(res.output)
    assert (result["embedder"], result["training_embedder"]) == ("dlib-resnet", "smoothswap")
    assert result["id_retrieval"] == 1.0  # identical images are each other's nearest neighbours
    assert (tmp_path / "t.md").read_text().startswith("| | ID retrieval")
