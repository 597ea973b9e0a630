import pytest
import torch

from lsw_core.errors import ShapeError
from lsw_synthface.oracle import face_params, oracle_metrics
from lsw_synthface.world import sample_params


def test_baselines_from_latents(G2d):
    z = torch.randn(64, 512, generator=torch.Generator().manual_seed(0))
    ws = G2d.mapping(z, truncation_psi=0.7, truncation_cutoff=8)
    src, tgt = ws[:32], ws[32:]
    m = oracle_metrics(G2d, src, tgt, tgt)
    assert m["n_pairs"] == 32
    assert m == {**m["baselines"]["target"], "baselines": m["baselines"]}
    assert m["expression_error"] == 0 and m["pose_error_deg"] == 0 and m["pose_angle_deg"] < 1e-3
    assert m["id_retrieval"] < 0.2
    source = m["baselines"]["source"]
    assert source["id_retrieval"] == 1.0 and source["identity_error"] == 0
    assert source["expression_error"] > 0.01 and source["pose_error_deg"] > 1


def test_an_ideal_swap_scores_perfectly():
    ps, pt = sample_params(50, torch.Generator().manual_seed(1)), sample_params(50, torch.Generator().manual_seed(2))
    ideal = pt.replace(identity=ps.identity)
    m = oracle_metrics(None, ps, pt, ideal)
    assert m["id_retrieval"] == 1.0 and m["expression_error"] == 0 and m["pose_error_deg"] == 0
    assert m["appearance_error"] == 0 and m["baselines"]["source"]["appearance_error"] > 0.1
    # a swap that takes the source's hair colour keeps less of the target's appearance
    recoloured = oracle_metrics(None, ps, pt, ideal.replace(hair=ps.hair))
    assert recoloured["appearance_error"] > 0.01
    # a swap that keeps half the target identity is still retrieved less often than the ideal one
    half = pt.replace(identity=(ps.identity + pt.identity) / 2)
    worse = oracle_metrics(None, ps, pt, half)
    assert worse["identity_error"] > 0.5 and worse["id_retrieval"] <= 1.0
    # a shrunken copy of the source identity (a less pronounced face) is the same direction only
    shrunk = oracle_metrics(None, ps, pt, pt.replace(identity=0.3 * ps.identity))
    assert shrunk["id_retrieval_cosine"] == 1.0 and shrunk["id_retrieval"] < 1.0
    # retrieval is nearest-source: swapping the pairing breaks it
    shuffled = ideal.map(lambda t: t.roll(1, 0))
    assert oracle_metrics(None, ps, pt, shuffled)["id_retrieval"] == 0.0


def test_pose_error_is_in_degrees():
    ps = sample_params(4, torch.Generator().manual_seed(3))
    pt = ps.replace(pose=torch.zeros(4, 3))
    sw = ps.replace(pose=torch.tensor([[3.0, 0, 0]] * 4))
    m = oracle_metrics(None, ps, pt, sw)
    assert m["pose_error_deg"] == pytest.approx(1.0) and m["pose_angle_deg"] == pytest.approx(3.0, abs=1e-4)


def test_mismatched_inputs_are_refused(G2d):
    ps = sample_params(4)
    with pytest.raises(ShapeError):
        oracle_metrics(None, ps, ps.map(lambda t: t[:3]), ps)
    with pytest.raises(ShapeError):
        face_params(G2d, torch.zeros(4, 21, 512))
