"""A differentiable shape model for generators that have none: a small CNN taught, on one generator's
own samples, to give what dlib's 68-landmark predictor gives (the landmarks, and the head pose and
expression the landmark judge fits to them).

`L_shape` (paper Eq. 4) needs landmarks that carry gradients; dlib's regression trees do not. The
net reads the generator's images at `size` px and returns coefficients [B, 136 + 3 + K]: the 68
landmarks as fractions of the image side, pose (yaw, pitch, roll) / `POSE_UNIT` degrees and the
standardised expression features. It has no identity part, so `fuse(source, target)` is the target:
`L_shape` then asks the swap to keep all of the target's landmark geometry — pose, expression and the
outline of the face — which is what a swap on a generator without a 3DMM must not take from the
source.

    net, metrics = train_landmark_net(G, LandmarkNetConfig(samples=6000))
    save_landmark_net("dcgan-landmarks.safetensors", net, metrics)
    lsw train -g dcgan-faces --shape-model dlib-landmarks --shape-model-checkpoint dcgan-landmarks.safetensors
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.errors import CheckpointError, LswError
from lsw_core.formats.artifacts import fingerprint, load_checked, read_info, read_tensors, save_weights
from lsw_core.formats.bounds import MAX_WIDTH, check_int, check_size
from lsw_core.interfaces import LANDMARK_FRAME, Generator, ShapeModel
from lsw_core.validators import check, number
from lsw_faces.landmark_config import LandmarkNetConfig
from lsw_faces.landmarks.expression import FEATURE_NAMES, NUM_FEATURES

FORMAT = "lsw-landmark-net"
NUM_LANDMARKS = 68
#: Pose is regressed in units of this many degrees (so its targets are about as large as the rest).
POSE_UNIT = 30.0


def resized(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images as the net reads them: float, antialiased to size × size."""
    return F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class LandmarkNet(ShapeModel):
    """Images [B, 3, H, W] in [-1, 1] → [landmarks (136, fractions of the side), pose / POSE_UNIT (3),
    standardised expression (K)]; four stride-2 convolutions and two linear layers."""

    def __init__(self, size: int = 64, channels: int = 32, hidden: int = 256, expression_weight: float = 0.0) -> None:
        super().__init__()
        self.size, self.channels, self.hidden = size, channels, hidden
        #: Weight in `shape_distance` of the expression features (standardised units) beside the
        #: landmarks (LANDMARK_FRAME pixels); a setting of the loss, not of the file.
        self.expression_weight = expression_weight
        self.num_coeffs = NUM_LANDMARKS * 2 + 3 + NUM_FEATURES
        widths = [3, channels, channels * 2, channels * 4, channels * 4]
        layers: list[nn.Module] = []
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(widths[-1] * (size // 16) ** 2, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, self.num_coeffs),
        )  # fmt: skip
        self.register_buffer("expression_mean", torch.zeros(NUM_FEATURES))
        self.register_buffer("expression_std", torch.ones(NUM_FEATURES))
        self.trained_for: tuple[str, str] | None = None  # (backend, generator fingerprint)

    def config(self) -> dict[str, int]:
        return {"size": self.size, "channels": self.channels, "hidden": self.hidden}

    def _regress(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(resized(images, self.size)))

    def fuse(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return target.clone()  # no identity part to take from the source: keep the target's geometry

    def landmarks(self, coeffs: torch.Tensor) -> torch.Tensor:
        return coeffs[:, : NUM_LANDMARKS * 2].reshape(-1, NUM_LANDMARKS, 2) * LANDMARK_FRAME

    def shape_distance(self, swap: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """The landmark L1 (paper Eq. 4) plus `expression_weight` × the mean L1 between the standardised
        expression features: mouth and eye openings move a few of 68 landmarks by a pixel or two, so in
        the landmark term alone they weigh little beside the outline and pose."""
        distance = super().shape_distance(swap, goal)
        if self.expression_weight:
            start = NUM_LANDMARKS * 2 + 3
            distance = distance + self.expression_weight * F.l1_loss(swap[:, start:].float(), goal[:, start:].float())
        return distance

    def parts(self, coeffs: torch.Tensor) -> dict[str, torch.Tensor]:
        start = NUM_LANDMARKS * 2
        expression = coeffs[:, start + 3 :] * self.expression_std + self.expression_mean
        return {"pose": coeffs[:, start : start + 3] * POSE_UNIT, "expression": expression}


Labeller = Callable[[torch.Tensor, Any], Any]


@torch.no_grad()
def label_samples(G: Generator, config: LandmarkNetConfig, labeller: Labeller,
                  progress: Callable[[int], None] | None = None) -> dict[str, torch.Tensor]:  # fmt: skip
    """Render `config.samples` images of `G` (at the net's size) and label them: {"images", "targets",
    "pose", "expression"} for the images the labeller placed landmarks on."""
    rng = torch.Generator().manual_seed(config.seed)
    kept: dict[str, list[torch.Tensor]] = {"images": [], "landmarks": [], "pose": [], "expression": []}
    chunk = 50
    for start in range(0, config.samples, chunk):
        n = min(chunk, config.samples - start)
        z = torch.randn(n, G.z_dim, generator=rng)
        psi = float(torch.empty(()).uniform_(config.psi_min, 1.0, generator=rng))
        images = G.synthesis(G.mapping(z, truncation_psi=psi)).float().clamp(-1, 1)
        marks = labeller(images, getattr(G, "face_box", None))
        h, w = images.shape[-2:]
        ok = marks.placed & torch.isfinite(marks.pose).all(1) & torch.isfinite(marks.expression).all(1)
        scale = torch.tensor([w, h], dtype=torch.float32)
        kept["images"].append(resized(images, config.size)[ok].half())
        kept["landmarks"].append((marks.landmarks[ok] / scale).reshape(-1, NUM_LANDMARKS * 2))
        kept["pose"].append(marks.pose[ok] / POSE_UNIT)
        kept["expression"].append(marks.expression[ok])
        if progress is not None:
            progress(n)
    data = {k: torch.cat(v) for k, v in kept.items()}
    if len(data["images"]) <= config.validation:
        raise LswError(
            f"dlib placed landmarks on {len(data['images'])} of {config.samples} samples: too few to train on "
            f"with {config.validation} held out (is this a face generator?)"
        )
    return data


def train_landmark_net(G: Generator, config: LandmarkNetConfig, labeller: Labeller,
                       progress: Callable[[str, int], None] | None = None) -> tuple[LandmarkNet, dict]:  # fmt: skip
    """Label `G`'s samples with `labeller` (`FaceLandmarks`) and fit a `LandmarkNet` to them; metrics:
    held-out mean landmark error in pixels of `G`'s images, pose error in degrees, expression error
    in standardised units, and counts."""
    began = time.perf_counter()
    data = label_samples(G, config, labeller, (lambda n: progress("label", n)) if progress else None)
    torch.manual_seed(config.seed)
    net = LandmarkNet(config.size, config.channels, config.hidden)
    mean, std = data["expression"].mean(0), data["expression"].std(0).clamp_min(1e-6)
    net.expression_mean.copy_(mean)
    net.expression_std.copy_(std)
    targets = torch.cat([data["landmarks"], data["pose"], (data["expression"] - mean) / std], dim=1)
    images = data["images"]
    n_val = config.validation
    train_x, train_y, val_x, val_y = images[n_val:], targets[n_val:], images[:n_val].float(), targets[:n_val]
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    rng = torch.Generator().manual_seed(config.seed + 1)
    for step in range(config.steps):
        lr = config.lr * 0.5 * (1 + math.cos(math.pi * step / config.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(len(train_x), (min(config.batch_size, len(train_x)),), generator=rng)
        x = train_x[idx].float()
        if torch.rand((), generator=rng) < 0.5:  # brightness/contrast jitter: swaps are not exact samples
            x = (x * (0.9 + 0.2 * torch.rand(len(x), 1, 1, 1, generator=rng))).clamp(-1, 1)
        loss = F.smooth_l1_loss(net._regress(x), train_y[idx], beta=0.05)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress("train", 1)
    net.eval().requires_grad_(False)
    with torch.no_grad():
        out = net._regress(val_x)
    side = G.resolution
    start = NUM_LANDMARKS * 2
    metrics = {
        "landmark_error_px": round(float((out[:, :start] - val_y[:, :start]).reshape(-1, 68, 2).norm(dim=2).mean()
                                         * side), 3),
        "pose_error_deg": round(float((out[:, start : start + 3] - val_y[:, start : start + 3]).abs().mean()
                                      * POSE_UNIT), 3),
        "expression_error_std": round(float((out[:, start + 3 :] - val_y[:, start + 3 :]).abs().mean()), 4),
        "labelled": len(images), "samples": config.samples, "validation": n_val, "steps": config.steps,
        "seconds": round(time.perf_counter() - began, 1), "expression_features": list(FEATURE_NAMES),
        "config": attrs.asdict(config),
    }  # fmt: skip
    net.trained_for = (getattr(G, "name", type(G).__name__), fingerprint(G))
    return net, metrics


def save_landmark_net(path: str | os.PathLike, net: LandmarkNet, metrics: dict | None = None) -> None:
    """Write the net (float32 weights) with its architecture, the generator it was taught on, and metrics."""
    if net.trained_for is None:
        raise LswError("save_landmark_net: the net does not say which generator it was trained on")
    save_weights(path, net.state_dict(), format=FORMAT, config=net.config(), backend=net.trained_for[0],
                 generator_fingerprint=net.trained_for[1], metrics=metrics or {})  # fmt: skip


def load_landmark_net(path: str | os.PathLike, expression_weight: float = 0.0) -> LandmarkNet:
    """A landmark net file (on the CPU, eval mode, no gradients into its weights) whose `shape_distance`
    weighs the expression features by `expression_weight`; one clear error when the file is not one or
    its architecture is out of bounds."""
    check("expression_weight", expression_weight, number(ge=0))
    info = read_info(path, FORMAT, what="a landmark net file (lsw landmarks train)")
    config = info.get("config")
    if not isinstance(config, dict) or set(config) != {"size", "channels", "hidden"}:
        raise CheckpointError(f"{path}: damaged landmark net file (expected config size, channels, hidden)")
    check_int("landmark net size", config["size"], 16, 1024, source=str(path))
    if config["size"] % 16:
        raise CheckpointError(f"{path}: landmark net size {config['size']}: expected a multiple of 16")
    for name in ("channels", "hidden"):
        check_int(f"landmark net {name}", config[name], 1, MAX_WIDTH, source=str(path))
    check_size(lambda: LandmarkNet(**config), what="landmark net", source=str(path))
    net = LandmarkNet(**config)
    load_checked(net, read_tensors(path, "landmark net weights"), source=str(path),
                 what="the recorded landmark net architecture", convert=lambda t: t.float())  # fmt: skip
    net.expression_weight = float(expression_weight)
    net.trained_for = (str(info.get("backend")), str(info.get("generator_fingerprint")))
    net.metrics = info.get("metrics", {})
    return net.eval().requires_grad_(False)
