"""Fitting the synthetic world's identity embedder and 3DMM regressor, and measuring them.

No dataset and no generator are needed: face parameters are sampled from the world's prior and
rendered directly, so every image comes with its exact identity, expression, pose and landmarks.
Both networks learn from one `RenderPool` of rendered faces, part of which is replaced by fresh
faces every step (a slowly refreshed pool is memorised, not generalised from). Some faces are
drawn from a truncated prior (the coarse and middle factors shrunk towards the mean, as the
generators' truncation ψ on the first rows does), since the mixer is trained on such faces.

- Identity embedder: embeds each face at the unit vector of its standardised identity
  coefficients with a constant last component, `normalize([c, anchor])` (cosine regression), so
  1 − cos between embeddings is a smooth identity distance that weighs every identity coefficient
  alike and ignores pose, expression, lighting and appearance. Half the faces are mirrored (the
  identity basis is symmetric), and the fitted embedder averages a face with its mirror image.
- Regressor: standardised coefficient regression (identity, expression, pose) plus an L1 loss on
  the 68 landmarks the coefficients project to, in image-size units.

`lsw synthface fit` runs both with fixed step counts and seeds, so the same command gives the
same weights on the same software and thread count; `--minutes` only caps the wall time (a capped
run says so in its json).
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import torch
from torch.nn import functional as F
from tqdm import tqdm

from lsw_core.formats.artifacts import write_text
from lsw_core.interfaces import LANDMARK_FRAME
from lsw_synthface.nets import (
    EMBEDDER_FILE,
    REGRESSOR_FILE,
    BackboneConfig,
    SynthFaceEmbedder,
    SynthFaceShapeModel,
    build_embedder,
    build_shape_model,
    save_net,
)

METRICS_FILE = "fit.json"


def _world():
    from lsw_synthface import world

    return world


@attrs.frozen(kw_only=True)
class FitConfig:
    """Settings of `lsw synthface fit`; the defaults produce the shipped weights."""

    seed: int = 0
    minutes: float = 15.0
    threads: int = 2
    backbone: BackboneConfig = BackboneConfig()
    steps: int = 2200
    batch: int = 96
    # the pool of rendered faces both networks learn from: `pool_faces` renders, `refresh_faces` of
    # them replaced by fresh faces every step; a face's coarse and middle factors are scaled by a ψ
    # drawn uniformly from [min_psi, 1] with probability `truncated_fraction`
    render_resolution: int = 128
    pool_faces: int = 1024
    refresh_faces: int = 24
    truncated_fraction: float = 0.5
    min_psi: float = 0.4
    # identity embedder: the constant component of the target embedding; `mirror`: each image is
    # mirrored with probability 1/2 in fitting (the identity basis is left-right symmetric, so a
    # mirrored face keeps its identity and the embedder sees twice the faces) and the fitted
    # embedder embeds an image together with its mirror image
    anchor: float = 3.0
    mirror: bool = True
    # regressor
    landmark_weight: float = 20.0
    # optimiser (AdamW, linear warm-up then cosine decay, gradient clipping), for both networks
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    grad_clip: float = 1.0
    # evaluation on renders of a seed never used in fitting
    eval_seed: int = 1_000_003
    eval_identities: int = 100
    eval_galleries: int = 5
    eval_faces: int = 256


# ---------------------------------------------------------------- data


def coefficients(params) -> torch.Tensor:
    """The regressor's targets: cat(identity, expression, pose) of world parameters."""
    return torch.cat([params.identity, params.expression, params.pose], dim=1)


def prior_statistics(generator: torch.Generator, n: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of the coefficients under the world's prior (floored, so a
    constant coefficient does not divide by zero)."""
    c = coefficients(_world().sample_params(n, generator=generator))
    return c.mean(0), c.std(0).clamp_min(1e-3)


def sample_faces(n: int, config: FitConfig, generator: torch.Generator):
    """FaceParams of `n` faces from the prior, a `truncated_fraction` of them with the factors of
    the generators' coarse and middle rows shrunk by a ψ in [min_psi, 1]."""
    from lsw_synthface.generator import GROUP_FACTORS

    world = _world()
    factors = world.sample_factors(n, generator=generator)
    truncated = torch.rand(n, generator=generator) < config.truncated_fraction
    psi = 1 - (1 - config.min_psi) * torch.rand(n, generator=generator)
    psi = torch.where(truncated, psi, torch.ones(n))[:, None]
    for name in {name for group in ("coarse", "middle") for name, _ in GROUP_FACTORS[group]}:
        factors[name] = factors[name] * psi
    return world.decode(factors)


class RenderPool:
    """A ring buffer of rendered faces with their coefficients and true landmarks. Rendering is the
    expensive part of fitting, so each render is reused for a while and the oldest faces are
    replaced by fresh ones as fitting goes on."""

    def __init__(self, size: int, config: FitConfig, generator: torch.Generator):
        world = _world()
        self.config, self.generator = config, generator
        res, ncoef = config.render_resolution, world.IDENTITY_DIM + world.EXPRESSION_DIM + 3
        self.images = torch.empty(size, 3, res, res, dtype=torch.float16)
        self.coeffs = torch.empty(size, ncoef)
        self.landmarks = torch.empty(size, 68, 2)
        self.next = 0
        self.rendered = 0

    def refresh(self, faces: int) -> None:
        """Render `faces` new faces into the oldest slots."""
        world = _world()
        faces = min(faces, len(self.images))
        params = sample_faces(faces, self.config, self.generator)
        with torch.no_grad():
            images = world.render(params, resolution=self.config.render_resolution)
            landmarks = world.project_landmarks(params.identity, params.expression, params.pose)
        rows = (torch.arange(faces) + self.next) % len(self.images)
        self.images[rows] = images.to(torch.float16)
        self.coeffs[rows] = coefficients(params)
        self.landmarks[rows] = landmarks
        self.next = (self.next + faces) % len(self.images)
        self.rendered += faces

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`size` random renders: (images, coefficients, landmarks)."""
        rows = torch.randint(len(self.images), (size,), generator=self.generator)
        return self.images[rows].float(), self.coeffs[rows], self.landmarks[rows]


# ---------------------------------------------------------------- losses


def identity_targets(identity: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, anchor: float) -> torch.Tensor:
    """The embedding a face of these identity coefficients [N, NI] should have: the unit vector of
    its standardised coefficients with a constant `anchor` appended, [N, NI + 1]."""
    standardised = (identity - mean) / std
    return F.normalize(F.pad(standardised, (0, 1), value=anchor), dim=1)


def landmark_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute landmark difference in image-size units."""
    return (pred - target).abs().mean()


# ---------------------------------------------------------------- training


class _Learner:
    """One network with its AdamW optimiser (linear warm-up, then cosine decay) and clipping."""

    def __init__(self, parameters, config: FitConfig):
        self.parameters = list(parameters)
        self.config = config
        self.opt = torch.optim.AdamW(self.parameters, lr=config.lr, weight_decay=config.weight_decay)
        warmup, steps = config.warmup_steps, config.steps

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))

        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, factor)
        self.ema: float | None = None

    def step(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, self.config.grad_clip)
        self.opt.step()
        self.sched.step()
        self.ema = loss.item() if self.ema is None else 0.98 * self.ema + 0.02 * loss.item()


def fit_networks(config: FitConfig, deadline: float = math.inf, quiet: bool = False):
    """Train a `SynthFaceEmbedder` and a `SynthFaceShapeModel` from scratch on one pool of renders.
    Returns (embedder, shape model, log)."""
    world = _world()
    torch.manual_seed(config.seed)
    g = torch.Generator().manual_seed(config.seed)
    mean, std = prior_statistics(g)
    ni = world.IDENTITY_DIM

    embedder = SynthFaceEmbedder(dim=ni + 1, backbone=config.backbone).train()
    regressor = SynthFaceShapeModel(identity_dim=ni, expression_dim=world.EXPRESSION_DIM, backbone=config.backbone)
    regressor.coeff_mean.copy_(mean)
    regressor.coeff_std.copy_(std)
    regressor.train()
    learn_e = _Learner(embedder.parameters(), config)
    learn_r = _Learner(regressor.parameters(), config)

    start = time.monotonic()
    pool = RenderPool(config.pool_faces, config, g)
    bar = tqdm(total=config.pool_faces, desc="rendering faces", disable=quiet, leave=False, file=sys.stderr)
    while pool.rendered < config.pool_faces:
        pool.refresh(config.refresh_faces)
        bar.update(config.refresh_faces)
    bar.close()
    pool_seconds = time.monotonic() - start

    done = 0
    bar = tqdm(range(config.steps), desc="fitting", disable=quiet, leave=False, file=sys.stderr)
    for step in bar:
        if time.monotonic() > deadline:
            break
        if step:
            pool.refresh(config.refresh_faces)

        images, coeffs, _ = pool.batch(config.batch)
        if config.mirror:
            flip = torch.rand(len(images), generator=g) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        target = identity_targets(coeffs[:, :ni], mean[:ni], std[:ni], config.anchor)
        id_loss = (1 - (embedder(images) * target).sum(1)).mean()
        learn_e.step(id_loss)

        images, coeffs, landmarks = pool.batch(config.batch)
        pred = regressor(images)
        coeff_loss = F.mse_loss((pred - mean) / std, (coeffs - mean) / std)
        lm_loss = landmark_l1(regressor.landmarks(pred) / LANDMARK_FRAME, landmarks)
        learn_r.step(coeff_loss + config.landmark_weight * lm_loss)

        done = step + 1
        if step % 10 == 0:
            bar.set_postfix(id=f"{learn_e.ema:.4f}", coef=f"{coeff_loss.item():.3f}", lm=f"{lm_loss.item():.4f}")
    bar.close()
    log = {
        "steps": done,
        "steps_planned": config.steps,
        "renders": pool.rendered,
        "pool_seconds": pool_seconds,
        "seconds": time.monotonic() - start,
        "embedder_loss_ema": learn_e.ema,
        "regressor_loss_ema": learn_r.ema,
    }
    embedder.mirror = config.mirror
    return embedder.eval(), regressor.eval(), log


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def identity_retrieval(
    embedder, *, identities: int = 100, galleries: int = 1, seed: int, resolution: int = 128
) -> float:
    """Top-1 identity retrieval: a gallery of one render per identity, probes of another render of
    each identity with pose, expression, lighting and appearance resampled; the fraction of probes
    whose nearest gallery embedding (cosine) is their own identity, averaged over `galleries`
    independent galleries (one gallery of 100 measures a rate only to about ±2 %)."""
    world = _world()
    g = torch.Generator().manual_seed(seed)
    correct = 0.0
    for _ in range(galleries):
        gallery = world.sample_params(identities, generator=g)
        probes = attrs.evolve(world.sample_params(identities, generator=g), identity=gallery.identity)
        eg = embedder(world.render(gallery, resolution=resolution))
        ep = embedder(world.render(probes, resolution=resolution))
        correct += ((ep @ eg.t()).argmax(dim=1) == torch.arange(identities)).float().sum().item()
    return correct / (identities * galleries)


@torch.no_grad()
def landmark_error(shape_model, *, faces: int = 256, seed: int, resolution: int = 128) -> dict[str, float]:
    """Mean Euclidean distance between the landmarks of the regressed coefficients and the true
    landmarks, as a fraction of the image size; plus mean absolute pose error in degrees."""
    world = _world()
    g = torch.Generator().manual_seed(seed)
    params = world.sample_params(faces, generator=g)
    coeffs = shape_model(world.render(params, resolution=resolution))
    truth = world.project_landmarks(params.identity, params.expression, params.pose)
    error = (shape_model.landmarks(coeffs) / LANDMARK_FRAME - truth).norm(dim=-1).mean().item()
    pose_error = (shape_model.parts(coeffs)["pose"] - params.pose).abs().mean().item()
    return {"landmark_error": error, "pose_error_deg": pose_error}


def evaluate(embedder, shape_model, config: FitConfig) -> dict[str, float]:
    """The acceptance measures on fresh renders (seed `eval_seed`) at 64 and 128 px."""
    out = {}
    for res in (64, 128):
        out[f"identity_retrieval_{res}px"] = identity_retrieval(
            embedder,
            identities=config.eval_identities,
            galleries=config.eval_galleries,
            seed=config.eval_seed,
            resolution=res,
        )
        errors = landmark_error(shape_model, faces=config.eval_faces, seed=config.eval_seed + 1, resolution=res)
        out.update({f"{k}_{res}px": v for k, v in errors.items()})
    return out


# ---------------------------------------------------------------- the whole procedure


def fit(config: FitConfig, out: str | os.PathLike, quiet: bool = False, command: str | None = None) -> dict[str, Any]:
    """Train both networks, write `embedder.safetensors`, `regressor.safetensors` (atomically) and
    `fit.json` (settings, command, timings, metrics measured on the files as written) into `out`."""
    out = Path(out)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        start = time.monotonic()
        embedder, regressor, log = fit_networks(config, start + config.minutes * 60, quiet)
        train_seconds = time.monotonic() - start
        save_net(embedder, out / EMBEDDER_FILE)
        save_net(regressor, out / REGRESSOR_FILE)
        metrics = evaluate(build_embedder(out / EMBEDDER_FILE), build_shape_model(out / REGRESSOR_FILE), config)
    finally:
        torch.set_num_threads(threads)
    report = {
        "command": command,
        "settings": attrs.asdict(config),
        "fitting": log,
        "stopped_by_time_cap": log["steps"] < config.steps,
        "train_seconds": train_seconds,
        "metrics": metrics,
        "environment": {"torch": torch.__version__, "python": platform.python_version(), "threads": config.threads},
    }
    write_text(out / METRICS_FILE, json.dumps(report, indent=2) + "\n")
    return report
