"""The original project's checkpoint (2021 layout: `student.*`, `mapping_net.*`), made here with random
tensors and computed here with the original formulas (EqualLinear mapping, demodulation from
`style_inv`), against what the loader builds from it."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import lsw_core
from lsw_core.errors import CheckpointError
from lsw_mobilestylegan.networks import inverse_haar

CHANNELS, W_DIM, LR = [16, 16, 8], 8, 0.01


def original_checkpoint(seed: int = 0) -> dict:
    """A Lightning-style checkpoint of a small 2021 MobileStyleGAN distiller, random tensors."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape, scale=1.0):
        return scale * torch.randn(*shape, generator=gen)

    sd = {f"mapping_net.layers.{j}.{k}": randn(*s) for j in (1, 2) for k, s in (("weight", (8, 8)), ("bias", (8,)))}
    sd |= {
        "style_mean": randn(1, 8),
        "synthesis_net.b4.conv.weight": randn(4, 4),
        "student.device_info": torch.zeros(1),
    }

    def modulation(prefix, channels):
        sd[f"student.{prefix}.modulation.weight"] = randn(channels, W_DIM)
        sd[f"student.{prefix}.modulation.bias"] = 1 + randn(channels, scale=0.2)

    def styled(prefix, c_in, c_out, depthwise):
        modulation(f"{prefix}.conv", c_in)
        if depthwise:
            sd[f"student.{prefix}.conv.weight_dw"] = randn(c_in, 1, 3, 3)
            sd[f"student.{prefix}.conv.weight_permute"] = randn(c_out, c_in, 1, 1)
        else:
            sd[f"student.{prefix}.conv.weight"] = randn(c_out, c_in, 3, 3)
        sd[f"student.{prefix}.conv.style_inv"] = randn(1, 1, c_in, 1, 1)
        sd[f"student.{prefix}.noise.weight"] = randn(1, scale=0.1)
        sd[f"student.{prefix}.bias"] = randn(1, c_out, 1, 1, scale=0.2)

    def to_img(prefix, c):
        modulation(f"{prefix}.conv", c)
        sd[f"student.{prefix}.conv.weight"] = randn(12, c, 1, 1)
        sd[f"student.{prefix}.bias"] = randn(1, 12, 1, 1, scale=0.1)

    sd["student.input.input"] = randn(1, CHANNELS[0], 4, 4)
    styled("conv1", CHANNELS[0], CHANNELS[0], False)
    to_img("to_img1", CHANNELS[0])
    for i, (c_in, c_out) in enumerate(zip(CHANNELS[:-1], CHANNELS[1:])):
        modulation(f"layers.{i}.up", c_in)
        for name in ("g0_col", "g1_col", "g0_row", "g1_row"):  # the wavelet transform's fixed filters
            sd[f"student.layers.{i}.up.idwt.{name}"] = randn(1, 1, 2, 1)
        styled(f"layers.{i}.conv1", c_in // 4, c_out, True)
        styled(f"layers.{i}.conv2", c_out, c_out, True)
        to_img(f"layers.{i}.to_img", c_out)
    return {"epoch": 3, "global_step": 1000, "state_dict": sd}


def original_synthesis(sd: dict, w: torch.Tensor) -> torch.Tensor:
    """The 2021 student on one w for every layer, without noise, as the original modules compute it."""

    def style(prefix, x_channels, kernel):
        s = F.linear(w, sd[f"student.{prefix}.modulation.weight"], sd[f"student.{prefix}.modulation.bias"])
        return s / math.sqrt(x_channels * kernel**2)

    def styled(prefix, x):
        c_in = x.shape[1]
        x = x * style(f"{prefix}.conv", c_in, 3)[:, :, None, None]
        if f"student.{prefix}.conv.weight_dw" in sd:
            dw, pw = sd[f"student.{prefix}.conv.weight_dw"], sd[f"student.{prefix}.conv.weight_permute"]
            x = F.conv2d(F.conv2d(x, dw, padding=1, groups=c_in), pw)
            weight = dw.transpose(0, 1) * pw
        else:
            weight = sd[f"student.{prefix}.conv.weight"]
            x = F.conv2d(x, weight, padding=1)
        scaled = weight.unsqueeze(0) * sd[f"student.{prefix}.conv.style_inv"] / math.sqrt(c_in * 9)
        demod = torch.rsqrt(scaled.pow(2).sum([2, 3, 4]) + 1e-8)
        return F.leaky_relu(x * demod[:, :, None, None] + sd[f"student.{prefix}.bias"], 0.2)

    x = styled("conv1", sd["student.input.input"])
    for i in range(len(CHANNELS) - 1):
        up = F.linear(w, sd[f"student.layers.{i}.up.modulation.weight"], sd[f"student.layers.{i}.up.modulation.bias"])
        x = inverse_haar(x * up[:, :, None, None])
        x = styled(f"layers.{i}.conv2", styled(f"layers.{i}.conv1", x))
    last = f"layers.{len(CHANNELS) - 2}.to_img"
    x = x * style(f"{last}.conv", x.shape[1], 1)[:, :, None, None]
    x = F.conv2d(x, sd[f"student.{last}.conv.weight"]) + sd[f"student.{last}.bias"]
    return inverse_haar(x)


def original_mapping(sd: dict, z: torch.Tensor) -> torch.Tensor:
    x = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
    for j in (1, 2):
        weight, bias = sd[f"mapping_net.layers.{j}.weight"], sd[f"mapping_net.layers.{j}.bias"]
        x = F.leaky_relu(F.linear(x, weight * LR / math.sqrt(weight.shape[1])) + bias * LR, 0.2) * math.sqrt(2)
    return x


@pytest.fixture
def checkpoint(tmp_path):
    data = original_checkpoint()
    torch.save(data, tmp_path / "mobilestylegan_ffhq.ckpt")
    return tmp_path / "mobilestylegan_ffhq.ckpt", data["state_dict"]


def test_the_original_checkpoint_computes_what_the_original_modules_do(checkpoint):
    path, sd = checkpoint
    G = lsw_core.load_generator("mobilestylegan", checkpoint=path)
    assert G.init_kwargs["channels"] == CHANNELS and (G.z_dim, G.w_dim, G.num_ws) == (8, 8, 8)
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    w = G.mapping_net(z)
    assert torch.allclose(w, original_mapping(sd, z), atol=1e-5)
    ws = w[:, None].repeat(1, G.num_ws, 1)
    expected = original_synthesis(sd, w)
    assert torch.allclose(G.synthesis(ws, noise_mode="none"), expected, atol=1e-5)
    assert torch.allclose(G.synthesis_net(ws, "none", reference=True), expected, atol=1e-5)


def test_noise_strengths_are_kept_and_the_constant_noise_follows_the_seed(checkpoint):
    path, sd = checkpoint
    a, b = (lsw_core.load_generator("mobilestylegan", checkpoint=path) for _ in range(2))
    c = lsw_core.load_generator("mobilestylegan", checkpoint=path, noise_seed=1)
    for conv_a, conv_b, conv_c, name in zip(a.synthesis_net.styled_convs(), b.synthesis_net.styled_convs(),
                                            c.synthesis_net.styled_convs(), ["conv1"] + [f"layers.{i}.conv{j}" for i in (0, 1) for j in (1, 2)]):  # fmt: skip
        assert conv_a.noise.strength == sd[f"student.{name}.noise.weight"][0]
        assert torch.equal(conv_a.noise.const, conv_b.noise.const) and not torch.equal(
            conv_a.noise.const, conv_c.noise.const
        )
    assert torch.equal(a.w_avg, b.w_avg)


def test_other_layouts_are_refused_naming_what_differs(tmp_path):
    data = original_checkpoint()
    newer = {
        k: v for k, v in data["state_dict"].items() if ".up.modulation" not in k
    }  # the later, unmodulated upsampling
    cases = [
        ({"state_dict": newer}, r"student.layers.0.up.modulation.weight is missing \(expected the 2021 MobileStyleGAN layout"),
        ({"state_dict": {**data["state_dict"], "student.layers.0.conv1.extra": torch.ones(1)}}, r"unexpected student keys \['layers.0.conv1.extra'\]"),
        ({"g_ema": {}, "latent_avg": torch.zeros(8)}, r"expected the MobileStyleGAN checkpoint \(keys 'student.\*', 'mapping_net.\*'\)"),
        ({"state_dict": {k: v for k, v in data["state_dict"].items() if "mapping_net.layers.2" not in k} | {"mapping_net.layers.3.weight": torch.ones(8, 8)}},
         r"expected mapping layers mapping_net.layers.1 … .N, found \[1, 3\]"),
    ]  # fmt: skip
    for i, (content, message) in enumerate(cases):
        torch.save(content, tmp_path / f"{i}.ckpt")
        with pytest.raises(CheckpointError, match=message) as info:
            lsw_core.load_generator("mobilestylegan", checkpoint=tmp_path / f"{i}.ckpt")
        assert "\n" not in str(info.value)


def test_a_checkpoint_carrying_code_is_refused(tmp_path):
    data = original_checkpoint()
    data["hyper_parameters"] = torch.nn.Identity()
    torch.save(data, tmp_path / "code.ckpt")
    with pytest.raises(
        CheckpointError, match="MobileStyleGAN checkpoint refused: it stores the Python object torch.nn"
    ):
        lsw_core.load_generator("mobilestylegan", checkpoint=tmp_path / "code.ckpt")
