"""The port on small random-weight generators: W+ with one row per modulated layer, the fast path
against the module-by-module reference, gradients, precision, noise, truncation, w_avg, folders and
bad input."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

import lsw_core
from lsw_core.cli import add_plugin_commands, cli
from lsw_core.errors import CheckpointError, LswError, ShapeError
from lsw_core.formats.generator_folder import save_generator
from lsw_mobilestylegan.generator import FFHQ_CHANNELS, MobileStyleGANGenerator, estimate_w_avg, parameter_count
from lsw_mobilestylegan.networks import BandPool

from .conftest import small_generator
from .irwriter import write_ir


def _ws(G, batch=2, seed=0, spread=0.5):
    """W+ codes whose rows all differ."""
    gen = torch.Generator().manual_seed(seed)
    ws = G.mapping(torch.randn(batch, G.z_dim, generator=gen, dtype=G.w_avg.dtype))
    return (ws + spread * torch.randn(ws.shape, generator=gen, dtype=ws.dtype)).detach()


def test_ffhq_layout_has_23_rows_grouped_by_resolution():
    G = MobileStyleGANGenerator()  # random weights (the meta device takes longer to set up)
    assert (G.num_ws, G.w_dim, G.resolution) == (23, 512, 1024)
    assert (
        G.synthesis_net.row_resolutions() == [4] + [r for r in (8, 16, 32, 64, 128, 256) for _ in range(3)] + [512] * 4
    )
    assert G.layer_groups == {
        "coarse": range(0, 4),
        "middle": range(4, 10),
        "fine1": range(10, 16),
        "fine2": range(16, 23),
    }
    assert parameter_count(G.init_kwargs) == sum(t.numel() for t in [*G.parameters(), *G.buffers()])
    assert G.training_defaults.truncation_psi == 0.5 and G.training_defaults.truncation_cutoff == 10
    assert G.training_defaults.embedder == "dlib-resnet" and G.camera is None
    assert len(G.synthesis_net.modulated()) == 23 and G.init_kwargs["channels"] == list(FFHQ_CHANNELS)


@pytest.mark.parametrize("noise_mode", ["const", "none"])
def test_fast_path_matches_the_reference_with_rows_differing(noise_mode):
    G = small_generator()
    ws = _ws(G, batch=3)
    with torch.no_grad():
        ref = G.synthesis_net(ws, noise_mode, reference=True)
        # bands of two rows (on two threads: shared by the band pool's workers), and one band
        for tile_bytes, threads in ((1, 1), (1, 2), (1 << 30, 2)):
            G.synthesis_net.TILE_BYTES = tile_bytes
            torch.set_num_threads(threads)
            assert torch.allclose(G.synthesis(ws, noise_mode=noise_mode), ref, atol=1e-5, rtol=0)
            assert torch.allclose(G.synthesis(ws[:1], noise_mode=noise_mode), ref[:1], atol=1e-5, rtol=0)
            assert torch.get_num_threads() == threads
    assert 2 in BandPool._pools  # the bands of two rows did go to its workers
    assert torch.allclose(G.synthesis(ws.requires_grad_(True), noise_mode=noise_mode), ref, atol=1e-5, rtol=0)


def test_every_row_drives_its_own_layer():
    G = small_generator()
    ws = _ws(G, batch=1)
    with torch.no_grad():
        base = G.synthesis(ws)
        for row, layer in enumerate(G.synthesis_net.modulated()):
            moved = ws.clone()
            moved[:, row] += 1.0
            target = G.synthesis(moved)
            assert (target - base).abs().max() > 1e-4, row
            # the same change made through that layer's modulation bias instead of its row
            bias = layer.modulation.bias
            saved = bias.clone()
            bias += layer.modulation.weight.sum(dim=1)
            assert torch.allclose(G.synthesis(ws), target, atol=1e-5), row
            bias.copy_(saved)


def test_random_noise_follows_the_seed_and_none_differs_from_const():
    G = small_generator()
    ws = _ws(G)
    with torch.no_grad():
        torch.manual_seed(3)
        a = G.synthesis(ws, noise_mode="random")
        torch.manual_seed(3)
        ref = G.synthesis_net(ws, "random", reference=True)
        b = G.synthesis(ws, noise_mode="random")
        assert torch.allclose(a, ref, atol=1e-5) and not torch.allclose(a, b, atol=1e-4)
        assert not torch.allclose(G.synthesis(ws, noise_mode="none"), G.synthesis(ws), atol=1e-4)


def test_gradients_reach_w_plus_and_every_weight():
    G = small_generator().requires_grad_(True)
    ws = _ws(G).requires_grad_(True)
    G.synthesis(ws).square().mean().backward()
    assert ws.grad is not None and torch.isfinite(ws.grad).all() and (ws.grad.abs().sum(dim=2) > 0).all()
    for name, p in G.synthesis_net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_gradients_match_finite_differences():
    G = small_generator(channels=[8, 4], w_dim=4, z_dim=4).double().requires_grad_(True)
    ws = _ws(G, batch=1).double().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: G.synthesis(x), (ws,), eps=1e-6, atol=1e-6)
    G.synthesis(ws).square().sum().backward()
    S = G.synthesis_net
    block = S.layers[0]
    weights = [S.input.input, S.conv1.conv.weight_demod, block.up.modulation.weight, block.conv1.conv.weight_dw,
               block.conv2.conv.weight_demod, block.conv2.bias, block.to_img.conv.weight, block.to_img.bias]  # fmt: skip
    eps = 1e-6
    for p in weights:
        i = int(p.grad.abs().argmax())
        with torch.no_grad():  # the fast path, in float64
            flat, old = p.view(-1), p.view(-1)[i].item()
            flat[i] = old + eps
            plus = G.synthesis(ws).square().sum()
            flat[i] = old - eps
            minus = G.synthesis(ws).square().sum()
            flat[i] = old
        numeric = (plus - minus).item() / (2 * eps)
        assert abs(numeric - p.grad.view(-1)[i].item()) <= 1e-5 * max(1.0, abs(numeric))


def test_activation_checkpointing_gives_the_same_image_and_gradients():
    G = small_generator()
    ws = _ws(G).requires_grad_(True)
    G.synthesis(ws).sum().backward()
    expected = ws.grad.clone()
    ws.grad = None
    G.set_activation_checkpointing(True)
    assert isinstance(G, lsw_core.interfaces.SupportsActivationCheckpointing)
    img = G.synthesis(ws)
    img.sum().backward()
    assert torch.allclose(ws.grad, expected, atol=1e-5)


def test_bf16_autocast_runs_and_stays_close():
    G = small_generator()
    ws = _ws(G)
    with torch.no_grad():
        ref = G.synthesis(ws)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        img = G.synthesis(ws.requires_grad_(True))
    assert img.dtype == torch.float32 and torch.isfinite(img).all()
    assert (img - ref).abs().mean() < 0.02
    img.square().mean().backward()
    assert torch.isfinite(ws.grad).all()


def test_truncation_moves_the_first_rows_towards_w_avg():
    G = small_generator()
    z = torch.randn(2, G.z_dim)
    full, cut = G.mapping(z), G.mapping(z, truncation_psi=0.5, truncation_cutoff=3)
    assert torch.allclose(cut[:, :3], G.w_avg + 0.5 * (full[:, :3] - G.w_avg)) and torch.equal(cut[:, 3:], full[:, 3:])
    assert torch.allclose(G.mapping(z, truncation_psi=0.0), G.w_avg.expand_as(full))


def test_w_avg_is_the_mean_of_mapped_samples_and_the_same_on_every_thread_count():
    G = small_generator()
    first = estimate_w_avg(G.mapping_net, samples=1500, seed=7)
    torch.set_num_threads(2)
    assert torch.equal(estimate_w_avg(G.mapping_net, samples=1500, seed=7), first) and torch.get_num_threads() == 2
    torch.set_num_threads(1)
    z = torch.randn(1500, G.z_dim, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    expected = G.mapping_net.double()(z).mean(dim=0)
    assert torch.allclose(first.double(), expected, atol=1e-6)
    assert torch.equal(G.w_avg, estimate_w_avg(G.mapping_net.float(), samples=200, seed=0))


def test_generator_folder_round_trip_and_lsw_convert(tmp_path):
    G = small_generator()
    G.backend_name = "mobilestylegan"
    save_generator(G, tmp_path / "folder")
    loaded = lsw_core.load_generator("mobilestylegan", checkpoint=tmp_path / "folder")
    assert loaded.init_kwargs == G.init_kwargs and torch.equal(loaded.w_avg, G.w_avg)
    ws = _ws(G)
    assert torch.equal(loaded.synthesis(ws), G.synthesis(ws))
    folder = write_ir(G, tmp_path / "ir")
    add_plugin_commands()
    result = CliRunner().invoke(
        cli, ["convert", str(folder), str(tmp_path / "converted"), "--generator", "mobilestylegan"]
    )
    assert result.exit_code == 0, result.output
    converted = lsw_core.load_generator("mobilestylegan", checkpoint=tmp_path / "converted")
    assert torch.equal(converted.synthesis(ws), G.synthesis(ws))


def test_bad_input_fails_in_one_line(tmp_path):
    G = small_generator()
    cases = [
        (lambda: G.synthesis(torch.zeros(1, G.num_ws - 1, G.w_dim)), ShapeError, r"ws: expected shape \[B, 8, 8\]"),
        (lambda: G.synthesis(torch.zeros(1, G.num_ws, G.w_dim), noise_mode="fresh"), LswError, "noise_mode: expected one of"),
        (lambda: G.synthesis(torch.zeros(1, G.num_ws, G.w_dim), camera=object()), LswError, "2D generator and takes no camera"),
        (lambda: G.mapping(torch.zeros(1, G.z_dim + 1)), ShapeError, r"z: expected shape \[B, 8\]"),
        (lambda: MobileStyleGANGenerator(channels=[16, 10, 8]), CheckpointError, r"channels\[1\]: expected a multiple of 4"),
        (lambda: MobileStyleGANGenerator(channels=[4096] * 11), CheckpointError, "expected a list of 2 to 10 widths"),
        (lambda: MobileStyleGANGenerator(channels=[4096] * 10), CheckpointError, r"M values; refused"),
        (lambda: MobileStyleGANGenerator(w_dim=0), CheckpointError, r"w_dim: expected 1 to 4096, found 0"),
        (lambda: lsw_core.load_generator("mobilestylegan", checkpoint=tmp_path / "nothing"), CheckpointError, "no such checkpoint"),
        (lambda: lsw_core.load_generator("mobilestylegan", checkpoint=tmp_path / "a.txt"), CheckpointError,
         "expected the original MobileStyleGAN checkpoint"),
    ]  # fmt: skip
    (tmp_path / "a.txt").write_text("not a checkpoint")
    for fn, error, message in cases:
        with pytest.raises(error, match=message) as info:
            fn()
        assert "\n" not in str(info.value)


def test_a_folder_of_another_backend_is_refused(tmp_path):
    G = small_generator()
    G.backend_name = "stylegan2"
    save_generator(G, tmp_path / "other")
    with pytest.raises(CheckpointError, match="a 'stylegan2' generator, not 'mobilestylegan'"):
        lsw_core.load_generator("mobilestylegan", checkpoint=tmp_path / "other")


def test_without_the_wheel_the_default_names_the_install_command(monkeypatch):
    import importlib.metadata

    real = importlib.metadata.distribution

    def missing(name):
        if name == "random-face":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(LswError, match=r"`pip install --no-deps random-face`") as info:
        lsw_core.load_generator("mobilestylegan")
    assert "\n" not in str(info.value)
