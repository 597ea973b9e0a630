"""The StyleNeRF generator behind the Generator interface: W+ layout, cameras, background codes."""

import pytest
import torch

import lsw_core
from lsw_core.camera import Camera
from lsw_core.errors import LswError, ShapeError
from lsw_stylenerf.config import StyleNeRFConfig
from lsw_stylenerf.presets import ffhq_init_kwargs


@pytest.mark.parametrize("resolution,num_ws", [(64, 13), (128, 15), (256, 17), (512, 19), (1024, 21)])
def test_num_ws_of_the_ffhq_architecture(resolution, num_ws):
    from lsw_stylenerf.synthesis import NeRFSynthesisNetwork

    cfg = StyleNeRFConfig.from_init_kwargs(ffhq_init_kwargs(resolution, channel_max=8, rgb_out_dim=8))
    net = NeRFSynthesisNetwork(cfg.synthesis)
    assert net.num_ws == num_ws
    assert net.block_resolutions[0] == 64 and net.block_resolutions[-1] == resolution


def test_full_size_channels_follow_the_reference_formula():
    cfg = StyleNeRFConfig.from_init_kwargs(ffhq_init_kwargs(1024)).synthesis
    assert [cfg.channels(r) for r in cfg.block_resolutions] == [512, 256, 128, 64, 32]


@pytest.mark.parametrize("w_dim", [12, 40])
def test_any_w_dim(small_ffhq, w_dim):
    G = small_ffhq(w_dim=w_dim)
    ws = G.mapping(torch.randn(2, G.z_dim))
    assert ws.shape == (2, 13, w_dim)
    with torch.no_grad():
        img = G.synthesis(ws, camera=G.camera.default)
    assert img.shape == (2, 3, 64, 64) and torch.isfinite(img).all()


def test_truncation_cutoff_only_touches_the_first_rows(small_ffhq):
    G = small_ffhq()
    z = torch.randn(3, G.z_dim)
    full, cut = G.mapping(z), G.mapping(z, truncation_psi=0.5, truncation_cutoff=8)
    assert torch.equal(full[:, 8:], cut[:, 8:])
    assert torch.allclose(cut[:, :8], G.w_avg.lerp(full[:, :8], 0.5))


def test_a_camera_batch_renders_each_sample_from_its_own_view(small_ffhq):
    G = small_ffhq()
    ws = G.mapping(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0)))
    cams = G.camera.yaw_sweep(2)
    with torch.no_grad():
        both = G.synthesis(ws, camera=cams)
        first = G.synthesis(ws[:1], camera=cams[0])
        second = G.synthesis(ws[1:], camera=cams[1])
        matrices = G.synthesis(ws, camera=cams.matrices())
        other_view = G.synthesis(ws[:1], camera=cams[1])
    # Batched and single renders differ only in float summation order, which the hierarchical
    # sampler's inverse CDF can amplify to ~1e-3 on random weights; another view differs by far more.
    assert (both - torch.cat([first, second])).abs().max() < 3e-3
    assert torch.allclose(both, matrices, atol=1e-6)
    assert (first - other_view).abs().max() > 0.05


def test_background_code_defaults_to_zeros_and_changes_only_the_background(small_ffhq):
    G = small_ffhq()
    ws = G.mapping(torch.randn(1, G.z_dim))
    with torch.no_grad():
        default = G.render(ws)
        zeros = G.render(ws, background=torch.zeros(1, 32))
        other = G.render(ws, background=G.sample_background(1, torch.Generator().manual_seed(3)))
    assert torch.equal(default.img, zeros.img)
    assert not torch.allclose(default.nerf_img, other.nerf_img)


def test_multiview_with_a_fixed_background_code(small_ffhq):
    G = small_ffhq()
    # A fixed latent: how far batched and single renders round apart varies with the draw.
    ws = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(0)))
    code = G.sample_background(1, torch.Generator().manual_seed(1))
    views = G.camera.yaw_sweep(3)
    with torch.no_grad():
        imgs = [G.synthesis(ws, camera=views[v], background=code) for v in range(3)]
        again = G.synthesis(ws.expand(3, -1, -1), camera=views, background=code)
    assert torch.allclose(torch.cat(imgs), again, atol=5e-4)


def test_gradients_reach_the_latents(small_ffhq):
    G = small_ffhq()
    ws = G.mapping(torch.randn(1, G.z_dim)).requires_grad_(True)
    G.synthesis(ws, camera=G.camera.sample(1)).square().mean().backward()
    assert ws.grad is not None and ws.grad[0, :10].abs().sum() > 0 and ws.grad[0, 10:].abs().sum() > 0


def test_layer_groups_by_resolution(small_ffhq):
    groups = small_ffhq().layer_groups
    assert groups["middle"] == range(0, 10) and groups["fine1"] == range(10, 13) and len(groups["coarse"]) == 0


def test_bad_inputs_fail_with_one_clear_message(small_ffhq):
    G = small_ffhq()
    ws = G.mapping(torch.randn(2, G.z_dim))
    with pytest.raises(ShapeError, match="background"):
        G.synthesis(ws, background=torch.zeros(2, 31))
    with pytest.raises(ShapeError, match="camera"):
        G.synthesis(ws, camera=(torch.eye(4)[None], torch.eye(3)[None]))
    with pytest.raises(ShapeError, match="camera"):
        G.synthesis(ws, camera=Camera.make([0.0, 1.0, 2.0]))
    with pytest.raises(ShapeError, match="camera"):
        G.synthesis(ws, camera="front")
    with pytest.raises(LswError, match="unexpected"):
        G.synthesis(ws, lighting=1)


def test_loaded_by_name_through_the_plugin_registry(fixtures_dir):
    G = lsw_core.load_generator("stylenerf", checkpoint=fixtures_dir / "tiny64.pt")
    assert G.num_ws == 13 and G.camera is not None and not G.training


def test_the_trainer_renders_each_pair_with_a_background_from_the_prior(small_ffhq, tmp_path):
    from lsw_core.training.config import TrainConfig
    from lsw_core.training.trainer import MixerTrainer

    G = small_ffhq()
    config = TrainConfig(generator="stylenerf", mu_shape=0.0, batch_size=3, truncation_psi=1.0)
    embedder = lsw_core.load_identity_embedder("synthface-id")
    trainer = MixerTrainer(config, tmp_path, generator=G, embedder=embedder, progress=False)
    pairs = trainer.sample_pairs(3, torch.Generator().manual_seed(0))
    background = pairs["synthesis"]["background"]
    assert background.shape == (3, 32) and not torch.allclose(background[0], background[1])
    out = trainer.swap_batch(**pairs, noise_mode="const")
    with torch.no_grad():
        ws_t = G.mapping(pairs["z_t"])
        own = G.synthesis(ws_t, camera=pairs["camera"], background=background)
        default = G.synthesis(ws_t, camera=pairs["camera"])
    assert torch.allclose(out["target"], own, atol=1e-5) and not torch.allclose(out["target"], default, atol=1e-3)
