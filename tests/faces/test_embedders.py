"""ArcFace IR-SE50 and Smooth-Swap embedders on random-weight checkpoints written in the original
files' layouts (pSp's `model_ir_se50.pth`; a Lightning `.ckpt` with `net.`-prefixed keys)."""

import pytest
import torch
import torch.nn.functional as F

import lsw_core
from lsw_core.errors import CheckpointError
from lsw_faces.irse50 import ArcFaceIRSE50Embedder, psp_preprocess
from lsw_faces.smoothswap import SmoothSwapEmbedder

from .faces_layouts import irse50_forward, irse50_state, resnet50_forward, torchvision_resnet50_state

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def irse50_file(tmp_path_factory):
    state = irse50_state(torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("arcface") / "model_ir_se50.pth"
    torch.save(state, path)
    return path, state


def smoothswap_state(gen):
    """The LatentSwap authors' layout: `resnet` (torchvision ResNet-50, fc 2048→2048) and `last`."""
    s = torchvision_resnet50_state(gen, fc=2048, prefix="resnet.")
    for name, out_f, in_f in (("last.0", 1024, 2048), ("last.3", 512, 1024)):
        s[f"{name}.weight"] = torch.randn(out_f, in_f, generator=gen) / in_f**0.5
        s[f"{name}.bias"] = 0.1 * torch.randn(out_f, generator=gen)
    for name, c in (("last.1", 1024), ("last.4", 512)):
        s[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=gen)
        s[f"{name}.bias"] = 0.1 * torch.randn(c, generator=gen)
        s[f"{name}.running_mean"] = 0.1 * torch.randn(c, generator=gen)
        s[f"{name}.running_var"] = 0.5 + torch.rand(c, generator=gen)
        s[f"{name}.num_batches_tracked"] = torch.tensor(7)
    return s


def smoothswap_reference(s, x01):
    h = resnet50_forward({k.removeprefix("resnet."): v for k, v in s.items() if k.startswith("resnet.")}, x01)
    for lin, norm in (("last.0", "last.1"), ("last.3", "last.4")):
        h = F.linear(h, s[f"{lin}.weight"], s[f"{lin}.bias"])
        h = F.batch_norm(h, s[f"{norm}.running_mean"], s[f"{norm}.running_var"], s[f"{norm}.weight"], s[f"{norm}.bias"])
        if lin == "last.0":
            h = F.leaky_relu(h, 0.01)
    return F.normalize(h, dim=1)


@pytest.fixture(scope="module")
def arcface(irse50_file):
    return lsw_core.load_identity_embedder("arcface-ir-se50", checkpoint=irse50_file[0])


def test_arcface_matches_reference_forward_with_psp_preprocessing(irse50_file, arcface):
    state = irse50_file[1]
    emb = arcface
    images = torch.rand(2, 3, 256, 256) * 2 - 1
    face = F.adaptive_avg_pool2d(images[:, :, 35:223, 32:220], 112)
    with torch.no_grad():
        ours, ref = emb(images), irse50_forward(state, face)
    assert ours.shape == (2, 512)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_psp_preprocess_pools_other_sizes_to_256_first():
    images = torch.rand(1, 3, 512, 512) * 2 - 1
    expected = F.adaptive_avg_pool2d(F.adaptive_avg_pool2d(images, 256)[:, :, 35:223, 32:220], 112)
    assert torch.equal(psp_preprocess(images), expected)


def test_arcface_gradients_flow(arcface):
    images = (torch.rand(1, 3, 128, 128) * 2 - 1).requires_grad_(True)
    arcface(images)[0, :8].sum().backward()
    assert images.grad.abs().sum() > 0


def test_smoothswap_lightning_checkpoint(tmp_path):
    state = smoothswap_state(torch.Generator().manual_seed(1))
    path = tmp_path / "smoothswap.ckpt"
    torch.save({"epoch": 3, "global_step": 10, "state_dict": {f"net.{k}": v for k, v in state.items()}}, path)
    emb = lsw_core.load_identity_embedder("smoothswap", checkpoint=path)
    images = torch.rand(2, 3, 128, 128) * 2 - 1
    x01 = F.interpolate((images + 1) / 2, size=(256, 256), mode="bilinear", align_corners=False)
    with torch.no_grad():
        assert torch.allclose(emb(images), smoothswap_reference(state, x01), atol=1e-5)


def test_wrong_layout_is_one_clear_error(tmp_path, irse50_file):
    path, state = irse50_file
    broken = dict(state)
    del broken["output_layer.3.bias"]
    broken["body.0.res_layer.1.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save(broken, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"missing: output_layer.3.bias.*wrong shape: body.0.res_layer.1.weight"):
        ArcFaceIRSE50Embedder(tmp_path / "bad.pth")
    torch.save(state, tmp_path / "arc.pth")
    with pytest.raises(CheckpointError, match="unexpected"):
        SmoothSwapEmbedder(tmp_path / "arc.pth")
    with pytest.raises(CheckpointError, match="checkpoint=PATH"):
        SmoothSwapEmbedder()
