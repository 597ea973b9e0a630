"""dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`) as a differentiable
torch module, read directly from dlib's serialised network.

The network (dlib `dnn_face_recognition_ex.cpp`, `anet_type`) on 150×150 RGB chips:
con 7×7/2 (32) → affine → relu → max_pool 3×3/2 → residual levels of 32, 64, 128, 256, 256 filters
→ global average → x·W (128, no bias). Residual blocks are con 3×3/s → affine → relu → con 3×3 →
affine, added to the block input (average-pooled 2×2/2 in down-sampling blocks), then relu.
Stride-2 convolutions use no padding, so the add zero-pads the smaller tensor (channels, rows,
columns, at the end) to the larger shape, as dlib's `add_prev` does. "affine" layers are batch
norms folded into a per-channel scale and shift.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.errors import CheckpointError, SettingError
from lsw_core.interfaces import IdentityEmbedder
from lsw_faces.dlib_format import DlibStream

DAT_NAME = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIZE = 150
# (filters, blocks, first block down-samples) from the input outwards: alevel4 ... alevel0.
LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
#: The chip dlib cuts (`get_face_chip_details`, padding 0.25) from FFHQ-aligned faces, as fractions of
#: the image side (left, top, right, bottom): the mean over 32 of 32 1024-px MobileStyleGAN faces at
#: ψ = 0.5 (spread 0.006–0.016, rotation −0.2° ± 1.1°; `bench/dlib_ffhq_chip.py`).
FFHQ_CHIP = (0.1593, 0.2580, 0.8540, 0.9527)
CROPS = ("full", "ffhq")


class Affine(nn.Module):
    """dlib's `affine_` layer: per-channel γ·x + β."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma[:, None, None] + self.beta[:, None, None]


def add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's `add_prev`: the sum over the larger shape, the smaller tensor zero-padded at the end
    of its channel, row and column axes."""
    shape = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def pad(t: torch.Tensor) -> torch.Tensor:
        c, h, w = t.shape[1:]
        return F.pad(t, (0, shape[2] - w, 0, shape[1] - h, 0, shape[0] - c))

    return pad(a) + pad(b)


class ResidualBlock(nn.Module):
    """`ares` / `ares_down`: relu(add_prev(block(x), x or avg_pool2x2(x)))."""

    def __init__(self, *, in_channels: int, channels: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.affine1 = Affine(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.affine2 = Affine(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        skip = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(add_zero_padded(y, skip))


class DlibFaceResNet(nn.Module):
    """The network on dlib's input tensor [B, 3, 150, 150] ((pixel − mean) / 256) → descriptor [B, 128]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        self.affine = Affine(32)
        blocks, channels = [], 32
        for width, count, first_down in LEVELS:
            for i in range(count):
                blocks.append(ResidualBlock(in_channels=channels, channels=width, down=first_down and i == 0))
                channels = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, 128, bias=False)
        self.register_buffer("pixel_mean", torch.tensor([122.782, 117.001, 104.298]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.affine(self.conv(x))), 3, 2)
        x = self.blocks(x).mean(dim=(2, 3))
        return self.fc(x)


# ---------------------------------------------------------------------------------------------
# Reading the .dat file


def _network_tokens() -> list[str]:
    """The layers of `anet_type` from the loss outwards-in, as dlib nests them (tags and skips
    included, since each writes a version number)."""

    def block(sub: list[str]) -> list[str]:
        return ["affine", "con", "relu", "affine", "con", *sub]

    def ares(sub: list[str]) -> list[str]:
        return ["relu", "add_prev", *block(["tag", *sub])]

    def ares_down(sub: list[str]) -> list[str]:
        return ["relu", "add_prev", "avg_pool", "skip", "tag", *block(["tag", *sub])]

    tokens = ["max_pool", "relu", "affine", "con"]  # con sits directly on the input layer
    for _width, count, first_down in LEVELS:
        for i in range(count):
            tokens = ares_down(tokens) if first_down and i == 0 else ares(tokens)
    return ["fc", "avg_pool", *tokens]


def _read_layer(s: DlibStream, kind: str) -> dict:
    name = s.string()
    if not name.startswith(kind + "_"):
        raise s.fail(f"expected a {kind} layer, found {name!r}")
    rec: dict = {"name": name}
    if kind == "con":
        rec["params"] = s.tensor().reshape(-1)
        rec["num_filters"], rec["nr"], rec["nc"], rec["stride_y"], rec["stride_x"] = (s.int() for _ in range(5))
        rec["padding_y"], rec["padding_x"] = s.int(), s.int()
        rec["filters"], rec["biases"] = s.alias_tensor(), s.alias_tensor()
        [s.float() for _ in range(4)]  # learning-rate and weight-decay multipliers
        rec["use_bias"] = s.bool() if name in ("con_5", "con_6") else True
        if name == "con_6":
            s.bool()
    elif kind == "fc":
        rec["num_outputs"], rec["num_inputs"] = s.int(), s.int()
        rec["params"] = s.tensor().reshape(-1)
        rec["weights"], rec["biases"] = s.alias_tensor(), s.alias_tensor()
        rec["bias_mode"] = s.int()
        [s.float() for _ in range(4)]
        if name == "fc_3":
            s.bool()
    elif kind == "affine":
        if name not in ("affine_", "affine_2"):
            raise s.fail(f"unsupported affine layer version {name!r}")
        params = s.tensor().reshape(-1)  # γ then β, described by two alias tensors
        channels = s.alias_tensor()[1]
        s.alias_tensor()
        if params.size != 2 * channels:
            raise s.fail(f"affine layer with {params.size} parameters for {channels} channels")
        rec["gamma"], rec["beta"] = params[:channels], params[channels:]
        rec["mode"] = s.int()
        if name == "affine_2":
            s.bool()
    elif kind == "relu":
        if name == "relu_2":
            s.bool()
    elif kind in ("max_pool", "avg_pool"):
        rec["nr"], rec["nc"], rec["stride_y"], rec["stride_x"], rec["padding_y"], rec["padding_x"] = (
            s.int() for _ in range(6)
        )
    return rec


def read_dlib_network(path: str | Path) -> list[dict]:
    """Parse `dlib_face_recognition_resnet_model_v1.dat` into its layer records, input first,
    checking the nesting, layer kinds and the input layer against `anet_type`."""
    s = DlibStream.open(path)
    s.expect_int(1, "add_loss_layer version")
    if s.string() not in ("loss_metric_", "loss_metric_2"):
        raise s.fail("expected a loss_metric network")
    if s.data[s.pos - 1 : s.pos] == b"2":
        s.float(), s.float()  # margin, distance threshold
    tokens = _network_tokens()
    for tok in tokens[:-1]:
        s.expect_int(1 if tok in ("tag", "skip") else 2, f"{tok} layer version")
    input_version = s.int()
    if input_version not in (2, 3):
        raise s.fail(f"input add_layer version {input_version}")
    if s.string() != "input_rgb_image_sized":
        raise s.fail("expected an input_rgb_image_sized input layer")
    mean = [s.float() for _ in range(3)]
    if (s.int(), s.int()) != (CHIP_SIZE, CHIP_SIZE):
        raise s.fail(f"expected {CHIP_SIZE}x{CHIP_SIZE} input chips")
    records = []
    layers = [t for t in reversed(tokens) if t not in ("tag", "skip")]
    for i, kind in enumerate(layers):
        rec = _read_layer(s, kind)
        rec["kind"] = kind
        records.append(rec)
        [s.bool() for _ in range(3)]
        [s.tensor() for _ in range(3)]  # x_grad, cached_output, params_grad: training state
        if i == 0 and input_version == 3:
            s.int()  # sample expansion factor
    if not s.at_end():
        raise s.fail("trailing bytes after the last layer")
    records.insert(0, {"kind": "input", "mean": mean})
    return records


def _conv_weights(rec: dict, conv: nn.Conv2d) -> None:
    n, k, nr, nc = rec["filters"]
    expected = (conv.out_channels, conv.in_channels, *conv.kernel_size)
    if (n, k, nr, nc) != expected or (rec["stride_y"], rec["stride_x"]) != conv.stride:
        raise CheckpointError(
            f"dlib con layer: expected filters {expected}, stride {conv.stride}; "
            f"found {(n, k, nr, nc)}, stride {(rec['stride_y'], rec['stride_x'])}"
        )
    if (rec["padding_y"], rec["padding_x"]) != conv.padding:
        raise CheckpointError(f"dlib con layer: expected padding {conv.padding}, found {rec['padding_y']}")
    size = n * k * nr * nc
    conv.weight.data.copy_(torch.from_numpy(rec["params"][:size].reshape(n, k, nr, nc).copy()))
    conv.bias.data.copy_(torch.from_numpy(rec["params"][size : size + n].copy()))


def _affine_weights(rec: dict, affine: Affine) -> None:
    if rec["gamma"].shape != affine.gamma.shape:
        raise CheckpointError(f"dlib affine layer: expected {affine.gamma.numel()} channels, found {rec['gamma'].size}")
    affine.gamma.data.copy_(torch.from_numpy(rec["gamma"].copy()))
    affine.beta.data.copy_(torch.from_numpy(rec["beta"].copy()))


def load_dlib_face_resnet(path: str | Path) -> DlibFaceResNet:
    """Build `DlibFaceResNet` with the weights of dlib's serialised face-recognition network."""
    records = iter(read_dlib_network(path))
    net = DlibFaceResNet()
    net.pixel_mean.copy_(torch.tensor(next(records)["mean"]))

    def take(kind: str) -> dict:
        rec = next(records)
        assert rec["kind"] == kind, (rec["kind"], kind)  # guaranteed by read_dlib_network
        return rec

    _conv_weights(take("con"), net.conv)
    _affine_weights(take("affine"), net.affine)
    take("relu"), take("max_pool")
    for blk in net.blocks:
        _conv_weights(take("con"), blk.conv1)
        _affine_weights(take("affine"), blk.affine1)
        take("relu")
        _conv_weights(take("con"), blk.conv2)
        _affine_weights(take("affine"), blk.affine2)
        if blk.down:
            take("avg_pool")
        take("add_prev"), take("relu")
    take("avg_pool")
    fc = take("fc")
    n_in, n_out = fc["weights"][:2]
    if (n_in, n_out) != (256, 128) or fc["bias_mode"] != 1:
        raise CheckpointError(f"dlib fc layer: expected 256→128 without bias, found {n_in}→{n_out}")
    w = fc["params"][: n_in * n_out].reshape(n_in, n_out)  # descriptor = x · W
    net.fc.weight.data.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
    return net


def default_dat_path() -> Path:
    """The .dat shipped in the `face-recognition-models` package (imported by file location: its
    own `__init__` needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            f"dlib-resnet: no checkpoint given and the face-recognition-models package (which ships {DAT_NAME}) "
            "is not installed; pip install 'lsw-core[faces]' or pass checkpoint=PATH"
        )
    return Path(spec.submodule_search_locations[0]) / "models" / DAT_NAME


class DlibResNetEmbedder(IdentityEmbedder):
    """Identity embedder `dlib-resnet`: images in [-1, 1] of any size, resized (bilinear) to dlib's
    150×150 chips, to dlib's 128-d face descriptor (unit-normalised by `forward`; the raw
    descriptor, on which dlib's 0.6 same-person threshold applies, is `descriptor`).

    `crop="full"` (default) reads the whole image as the chip (face chips, the DCGAN's framing);
    `crop="ffhq"` first cuts `FFHQ_CHIP`, where dlib's own chip lies in FFHQ-aligned images."""

    dim = 128

    def __init__(self, checkpoint: str | Path | None = None, crop: str = "full"):
        super().__init__()
        if crop not in CROPS:
            raise SettingError(f"dlib-resnet crop: expected one of {CROPS}, got {crop!r}")
        self.crop = crop
        self.checkpoint = Path(checkpoint) if checkpoint is not None else default_dat_path()
        self.net = load_dlib_face_resnet(self.checkpoint)
        self.eval().requires_grad_(False)

    def to_dlib_input(self, images: torch.Tensor) -> torch.Tensor:
        if self.crop == "ffhq":
            h, w = images.shape[-2:]
            left, top, right, bottom = FFHQ_CHIP
            images = images[..., round(top * h) : round(bottom * h), round(left * w) : round(right * w)]
        if images.shape[-2:] != (CHIP_SIZE, CHIP_SIZE):
            images = F.interpolate(images, size=(CHIP_SIZE, CHIP_SIZE), mode="bilinear", antialias=True)
        pixels = (images + 1) * 127.5
        return (pixels - self.net.pixel_mean[:, None, None]) / 256

    def descriptor(self, images: torch.Tensor) -> torch.Tensor:
        """dlib's `compute_face_descriptor` of face chips in [-1, 1] → [B, 128]."""
        return self.net(self.to_dlib_input(images))

    def _embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.descriptor(images)
