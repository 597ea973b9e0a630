"""LPIPS: our network loads weight files in torchvision's and the `lpips` package's key layouts (built
here with random values and the exact key names and shapes), and behaves as a distance."""

from __future__ import annotations

import warnings

import pytest
import torch

from lsw_core.errors import CheckpointError
from lsw_core.plugins import load
from lsw_lpips.fallback import PixelSSIM
from lsw_lpips.loading import load_lpips
from lsw_lpips.networks import ALEX_CHANNELS, LPIPS, VGG_CHANNELS

# torchvision `features` convolution indices and shapes
ALEX_CONVS = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
VGG_WIDTHS = [(0, 64, 3), (2, 64, 64), (5, 128, 64), (7, 128, 128), (10, 256, 128), (12, 256, 256), (14, 256, 256),
              (17, 512, 256), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512), (28, 512, 512)]  # fmt: skip
# the lpips package's slice boundaries over the same indices
ALEX_SLICES = [(0, 2), (2, 5), (5, 8), (8, 10), (10, 12)]
VGG_SLICES = [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)]


def torchvision_state(trunk: str, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    convs = ALEX_CONVS if trunk == "alex" else {i: (o, c, 3) for i, o, c in VGG_WIDTHS}
    state = {}
    for i, (out_c, in_c, k) in convs.items():
        state[f"features.{i}.weight"] = torch.randn(out_c, in_c, k, k, generator=g) * (2 / (in_c * k * k)) ** 0.5
        state[f"features.{i}.bias"] = torch.randn(out_c, generator=g) * 0.01
    state["classifier.1.weight"] = torch.randn(8, 8, generator=g)  # present in torchvision files, ignored
    return state


def lpips_heads(trunk: str, seed: int = 1, dropout: bool = True) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    channels = ALEX_CHANNELS if trunk == "alex" else VGG_CHANNELS
    idx = 1 if dropout else 0
    return {f"lin{k}.model.{idx}.weight": torch.rand(1, c, 1, 1, generator=g) for k, c in enumerate(channels)}


def lpips_full_state(trunk: str) -> dict[str, torch.Tensor]:
    """A whole `lpips.LPIPS` state dict: trunk under `net.slice<s>.<i>`, heads, scaling layer."""
    slices = ALEX_SLICES if trunk == "alex" else VGG_SLICES
    state = {}
    for key, value in torchvision_state(trunk).items():
        if key.startswith("features."):
            i = int(key.split(".")[1])
            s = next(n for n, (lo, hi) in enumerate(slices, 1) if lo <= i < hi)
            state[f"net.slice{s}.{i}.{key.split('.')[2]}"] = value
    state.update(lpips_heads(trunk))
    state["scaling_layer.shift"] = torch.tensor([-0.030, -0.088, -0.188])[None, :, None, None]
    state["scaling_layer.scale"] = torch.tensor([0.458, 0.448, 0.450])[None, :, None, None]
    return state


@pytest.mark.parametrize("trunk", ["alex", "vgg"])
def test_torchvision_trunk_and_lpips_heads_load(tmp_path, trunk):
    torch.save(torchvision_state(trunk), tmp_path / "trunk.pth")
    torch.save(lpips_heads(trunk), tmp_path / "heads.pth")
    net = load_lpips(trunk, tmp_path / "heads.pth", tmp_path / "trunk.pth")
    conv = 3 if trunk == "alex" else 2
    assert torch.equal(net.features[conv].weight, torchvision_state(trunk)[f"features.{conv}.weight"])
    assert torch.equal(net.heads[2], lpips_heads(trunk)["lin2.model.1.weight"])


def test_whole_lpips_state_dict_loads_the_same_network(tmp_path):
    from safetensors.torch import save_file

    save_file(lpips_full_state("vgg"), str(tmp_path / "lpips_vgg.safetensors"))
    full = load_lpips("vgg", tmp_path / "lpips_vgg.safetensors")
    torch.save(torchvision_state("vgg"), tmp_path / "trunk.pth")
    torch.save(lpips_heads("vgg", dropout=False), tmp_path / "heads.pth")
    split = load_lpips("vgg", tmp_path / "heads.pth", tmp_path / "trunk.pth")
    x, y = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(full(x, y), split(x, y))


def test_lpips_matches_its_definition():
    """Distance = Σ_layers mean_xy Σ_c w_c (f̂_a − f̂_b)², f̂ the channel-normalised features."""
    net = LPIPS(trunk="alex")
    net.load_state_dict({**net.state_dict(), **{k: v for k, v in torchvision_state("alex").items() if k in net.state_dict()},
                         **{f"heads.{k}": torch.rand(1, c, 1, 1) for k, c in enumerate(ALEX_CHANNELS)}})  # fmt: skip
    a, b = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64) * 2 - 1
    shift, scale = (
        torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1),
        torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1),
    )
    expected = torch.zeros(1)
    xa, xb = (a - shift) / scale, (b - shift) / scale
    for k, (lo, hi) in enumerate(ALEX_SLICES):
        for i in range(lo, hi):
            xa, xb = net.features[i](xa.clone()), net.features[i](xb.clone())
        na = xa / (xa.square().sum(1, keepdim=True).sqrt() + 1e-10)
        nb = xb / (xb.square().sum(1, keepdim=True).sqrt() + 1e-10)
        expected += ((na - nb).square() * net.heads[k]).sum(1).mean((1, 2))
    assert torch.allclose(net(a, b), expected, rtol=1e-5)


def test_distance_properties_and_gradient():
    net = LPIPS(trunk="alex")
    with torch.no_grad():
        for h in net.heads:
            h.uniform_(0, 1)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    y = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.allclose(net(x, x), torch.zeros(2), atol=1e-6)
    assert (net(x, y) > 0).all()
    assert torch.allclose(net(x, y), net(y, x))
    y.requires_grad_(True)
    net(x, y).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_missing_heads_and_wrong_shapes_are_named(tmp_path):
    torch.save(torchvision_state("alex"), tmp_path / "trunk.pth")
    with pytest.raises(CheckpointError, match="linear heads"):
        load_lpips("alex", tmp_path / "trunk.pth")
    torch.save(lpips_heads("vgg"), tmp_path / "vgg_heads.pth")
    with pytest.raises(CheckpointError, match="shape"):
        load_lpips("alex", tmp_path / "vgg_heads.pth", tmp_path / "trunk.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_lpips("alex", tmp_path / "junk.pth")


def test_registry_falls_back_with_a_warning_and_loads_with_weights(tmp_path):
    with pytest.warns(UserWarning, match="pixel \\+ SSIM fallback"):
        fallback = load("perceptual_loss", "lpips-vgg", checkpoint=None)
    assert isinstance(fallback, PixelSSIM)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(load("perceptual_loss", "pixel-ssim", checkpoint=None), PixelSSIM)
    torch.save(lpips_full_state("alex"), tmp_path / "alex_full.pth")
    assert isinstance(load("perceptual_loss", "lpips-alex", checkpoint=tmp_path / "alex_full.pth"), LPIPS)


def test_pixel_ssim_is_zero_for_equal_images_and_grows_with_noise():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    d = PixelSSIM()
    assert torch.allclose(d(x, x), torch.zeros(2), atol=1e-6)
    small, large = d(x, x + 0.05 * torch.randn_like(x)), d(x, x + 0.3 * torch.randn_like(x))
    assert (small < large).all()
