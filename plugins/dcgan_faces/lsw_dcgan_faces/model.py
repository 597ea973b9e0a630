"""`dcgan-faces`: the DCGAN of `gan-face-generate` (PyTorch's DCGAN tutorial network, ngf 64) with
its shipped weights. z [100] is the only latent: one row, no mapping network, no noise inputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

import lsw_core
from lsw_core.formats.torchfile import load_torch_file
from lsw_core.interfaces import TrainingDefaults

Z_DIM = 100


def default_weights() -> Path:
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise lsw_core.CheckpointError(
            "dcgan-faces: the gan-face-generate package is not installed; "
            "pip install --no-deps gan-face-generate==1.1.1 (or pass checkpoint=PATH to its weights.tar)"
        )
    return Path(spec.submodule_search_locations[0]) / "weights.tar"


class DCGANFaces(lsw_core.Generator):
    """z [B, 100] → W+ [B, 1, 100] (z itself; truncation pulls towards 0, the prior's mean) →
    image [B, 3, 64, 64] in [-1, 1]. BatchNorm runs on its stored statistics."""

    z_dim = w_dim = Z_DIM
    num_ws = 1
    resolution = 64
    # Truncation visibly degrades this generator's faces (ψ = 0.5 gives washed-out, blurred faces),
    # so train on the full prior; dlib's network is the identity embedder it is meant for.
    training_defaults = TrainingDefaults(truncation_psi=1.0, truncation_cutoff=None, embedder="dlib-resnet")
    # DigiFace-1M crops fill the frame: dlib's mean detection box over 157 of 200 samples.
    face_box = (0.12, 0.25, 0.86, 0.99)

    def __init__(self) -> None:
        super().__init__()
        from gan_face_generate.models import Generator as _Net

        self.net = _Net(ngpu=0, nc=3, nz=Z_DIM, ngf=64)
        self.register_buffer("w_avg", torch.zeros(Z_DIM))

    @classmethod
    def load(cls, checkpoint: str | Path | None = None) -> DCGANFaces:
        path = Path(checkpoint) if checkpoint is not None else default_weights()
        if not path.is_file():
            raise lsw_core.CheckpointError(f"dcgan-faces: no weights file at {path}")
        state = load_torch_file(path, "gan-face-generate weights")  # weights_only, sizes bounded by the file
        if not isinstance(state, dict) or "netG_state_dict" not in state:
            raise lsw_core.CheckpointError(f"{path}: expected gan-face-generate weights with 'netG_state_dict'")
        G = cls()
        G.net.load_state_dict(state["netG_state_dict"])
        return G.eval().requires_grad_(False)

    @property
    def layer_groups(self) -> dict[str, range]:
        return {"coarse": range(0, 1), "middle": range(0), "fine1": range(0), "fine2": range(0)}

    def _mapping(self, z, *, truncation_psi, truncation_cutoff):
        return self.w_avg.lerp(z, truncation_psi)[:, None]

    def train(self, mode: bool = True) -> DCGANFaces:
        """Frozen: batch norm always runs on its stored statistics."""
        return super().train(False)

    def _synthesis(self, ws, *, camera, noise_mode):
        return self.net(ws[:, 0, :, None, None])
