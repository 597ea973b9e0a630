import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lsw_core
from lsw_core.errors import CheckpointError, LswError, ShapeError
from lsw_synthface import world
from lsw_synthface.generator import COARSE_IDENTITY, synthface


def codes(G, batch=4, seed=0, psi=1.0):
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(seed))
    return G.mapping(z, truncation_psi=psi)


def test_backends_load_through_the_plugin_registry():
    G = lsw_core.load_generator("synthface")
    assert (G.num_ws, G.w_dim, G.z_dim, G.resolution, G.camera) == (18, 512, 512, 128, None)
    assert G.backend_name == "synthface"
    G3 = lsw_core.load_generator("synthface3d", resolution=64)
    assert (G3.num_ws, G3.resolution) == (21, 64) and G3.camera is not None
    with pytest.raises(CheckpointError):
        lsw_core.load_generator("synthface", checkpoint="ffhq.pkl")
    with pytest.raises(LswError, match="resolution"):
        synthface(resolution=100)


def test_layer_groups_are_stylegan_like(G2d, G3d):
    assert G2d.layer_groups == {"coarse": range(0, 4), "middle": range(4, 8), "fine1": range(8, 12),
                                "fine2": range(12, 18)}  # fmt: skip
    assert G3d.layer_groups["fine2"] == range(12, 21)


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 5), st.floats(0.0, 1.0), st.sampled_from([None, 4, 8]))
def test_mapping_shapes_and_truncation(batch, psi, cutoff):
    G = synthface(resolution=64)
    z = torch.randn(batch, 512)
    ws = G.mapping(z, truncation_psi=psi, truncation_cutoff=cutoff)
    full = G.mapping(z)
    assert ws.shape == (batch, 18, 512)
    rows = slice(0, cutoff or 18)
    assert torch.allclose(ws[:, rows], G.w_avg + psi * (full[:, rows] - G.w_avg), atol=1e-5)
    assert torch.equal(ws[:, cutoff or 18 :], full[:, cutoff or 18 :])


def test_generators_are_deterministic_from_their_seed(G2d):
    again = synthface(resolution=64)
    z = torch.randn(3, 512)
    assert torch.equal(G2d.mapping(z), again.mapping(z))
    ws = G2d.mapping(z)
    assert torch.equal(G2d.synthesis(ws), again.synthesis(ws))
    assert torch.equal(G2d.synthesis(ws, noise_mode="none"), G2d.synthesis(ws))
    noisy = G2d.synthesis(ws, noise_mode="random")
    assert 0 < (noisy - G2d.synthesis(ws)).std() < 0.03
    other = synthface(resolution=64, seed=1)
    assert not torch.allclose(other.mapping(z), G2d.mapping(z))


def test_synthesis_validates_its_input(G2d):
    with pytest.raises(ShapeError):
        G2d.synthesis(torch.zeros(2, 17, 512))
    with pytest.raises(LswError, match="camera"):
        G2d.synthesis(torch.zeros(2, 18, 512), camera=lsw_core.Camera.make())


def test_factors_are_standard_normal_under_the_prior(G2d):
    factors = G2d.factors(codes(G2d, 1024, seed=7))
    for name, f in factors.items():
        assert f.mean(0).abs().max() < 0.15, name
        assert ((f.std(0) - 1).abs() < 0.15).all(), name
    # w_avg decodes to the centre of every factor
    centre = G2d.factors(G2d.w_avg.expand(1, 18, 512))
    assert all(torch.allclose(f, torch.zeros_like(f), atol=1e-5) for f in centre.values())


def mix(G, a, b, group):
    out = a.clone()
    out[:, G.layer_groups[group]] = b[:, G.layer_groups[group]]
    return out


def test_each_group_steers_only_its_attributes(G2d):
    a, b = codes(G2d, 8, seed=1), codes(G2d, 8, seed=2)
    pa = G2d.params(a)

    def changed(group):
        pm = G2d.params(mix(G2d, a, b, group))
        return {
            k: not torch.allclose(getattr(pm, k), getattr(pa, k), atol=1e-5) for k in attrs.fields_dict(type(pa))
        } | {
            "identity_coarse": not torch.allclose(pm.identity[:, :COARSE_IDENTITY], pa.identity[:, :COARSE_IDENTITY]),
            "identity_middle": not torch.allclose(pm.identity[:, COARSE_IDENTITY:], pa.identity[:, COARSE_IDENTITY:]),
        }

    fine2 = changed("fine2")
    assert {k for k, v in fine2.items() if v} == {"background", "background2", "pattern"}
    fine1 = changed("fine1")
    assert {k for k, v in fine1.items() if v} == {"skin", "hair", "eyes", "light"}
    middle = changed("middle")
    assert {k for k, v in middle.items() if v} == {"identity", "identity_middle", "expression"}
    coarse = changed("coarse")
    assert {k for k, v in coarse.items() if v} == {"identity", "identity_coarse", "pose", "glasses", "hair_shape"}


def test_middle_rows_carry_most_of_the_identity(G2d):
    a, b = codes(G2d, 64, seed=3), codes(G2d, 64, seed=4)
    ia, ib = G2d.params(a).identity, G2d.params(b).identity
    moved = {g: (G2d.params(mix(G2d, a, b, g)).identity - ia).norm(dim=1).mean() for g in G2d.layer_groups}
    total = (ib - ia).norm(dim=1).mean()
    assert moved["middle"] > 0.75 * total
    assert moved["coarse"] < moved["middle"] and moved["fine1"] == 0 and moved["fine2"] == 0


def test_fine2_rows_change_only_the_background_pixels(G2d):
    a, b = codes(G2d, 2, seed=5), codes(G2d, 2, seed=6)
    img_a, img_m = G2d.synthesis(a), G2d.synthesis(mix(G2d, a, b, "fine2"))
    p = G2d.params(a)
    lm = world.project_landmarks(p.identity, p.expression, p.pose)
    for i in range(2):
        x0, y0 = (lm[i, [27, 28]].mean(0) * 64).long().tolist()  # between the eyes: skin at any pose
        face = (i, slice(None), slice(y0 - 2, y0 + 2), slice(x0 - 2, x0 + 2))
        assert torch.allclose(img_a[face], img_m[face], atol=1e-4)
    assert (img_a - img_m).abs().amax() > 0.1


def test_identity_moves_by_one_prior_std_for_a_small_latent_change(G2d):
    """The learnability budget: the smallest W+ change that shifts a face's whole identity (all 16
    factors) by one prior standard deviation each has a per-element MSE of about 2e-4: small
    enough for λ = 100 to afford against an O(1) identity loss."""
    mses = []
    for seed in range(4):
        ws = codes(G2d, 1, seed=seed)
        factors = G2d.factors(ws)["identity"]
        target = factors - torch.sign(factors)  # one std towards the mean face
        # The read-out is linear in W+, so the minimum-norm step is one pseudo-inverse.
        jac = torch.autograd.functional.jacobian(lambda w: G2d.factors(w)["identity"], ws).reshape(16, -1)
        step = (torch.linalg.pinv(jac) @ (target - factors).reshape(16, 1)).reshape_as(ws)
        assert torch.allclose(G2d.factors(ws + step)["identity"], target, atol=1e-4)
        mses.append(step.square().mean().item())
    assert 1e-4 < sum(mses) / len(mses) < 5e-4, mses


def test_3d_backend_renders_one_head_from_every_camera(G3d):
    ws = codes(G3d, 2, seed=9)
    views = G3d.camera.yaw_sweep(5)
    images, identities = [], []
    for k in range(5):
        cam = views[k]
        images.append(G3d.synthesis(ws, camera=cam))
        identities.append(G3d.params(ws).identity)
    assert all(torch.equal(identities[0], i) for i in identities)
    assert all((images[0] - im).abs().mean() > 0.01 for im in images[1:])
    batched = G3d.synthesis(ws[:1].expand(5, -1, -1), camera=views)
    assert torch.allclose(batched[2], images[2][0], atol=1e-4)
    assert G3d.params(ws).pose.abs().max() <= 45 * 0.25 + 1e-4


def test_ground_truth_is_params_as_a_dict(G2d):
    ws = codes(G2d, 3, seed=10)
    truth, p = G2d.ground_truth(ws), G2d.params(ws)
    assert set(truth) >= {"identity", "expression", "pose", "appearance"}
    assert all(torch.equal(truth[k], getattr(p, k)) for k in truth if k != "appearance")
    assert torch.equal(truth["appearance"], p.appearance()) and truth["appearance"].shape == (3, 22)
