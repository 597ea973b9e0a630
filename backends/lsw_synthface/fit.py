"""Fitting the synthetic world's identity embedder and 3DMM regressor, and measuring them.

No dataset and no generator are needed: face parameters are sampled from the world's prior and
rendered directly, so every image comes with its exact identity, expression, pose and landmarks.
Both networks learn from one `RenderPool` of `views` renders per identity that is refreshed with
fresh faces every other step (a slowly refreshed pool is memorised, not generalised from).

- Identity embedder: all views of `identities` random identities of the pool per step; a
  supervised contrastive loss pulls the views of one identity together and pushes the others
  apart, plus a small auxiliary regression of the identity coefficients from the embedding.
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

from lsw_synthface.nets import (
    EMBEDDER_FILE,
    REGRESSOR_FILE,
    BackboneConfig,
    SynthFaceEmbedder,
    SynthFaceShapeModel,
    build_embedder,
    build_shape_model,
    resample,
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
    threads: int = 1
    backbone: BackboneConfig = BackboneConfig()
    embedding_dim: int = 128
    steps: int = 3000
    # the pool of rendered faces both networks learn from: `pool_identities` × `views` renders,
    # `refresh_identities` of them re-rendered with fresh faces every `refresh_every` steps; the
    # last view of each identity is rendered at twice the resolution and area-averaged down, so
    # the networks also see the antialiased look of larger renders they will be fed
    render_resolution: int = 64
    pool_identities: int = 256
    views: int = 4
    refresh_identities: int = 24
    refresh_every: int = 2
    # identity embedder
    identities: int = 24
    temperature: float = 0.1
    identity_regression_weight: float = 0.5
    # regressor
    regressor_batch: int = 96
    landmark_weight: float = 20.0
    # optimiser (AdamW, linear warm-up then cosine decay, gradient clipping), for both networks
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    grad_clip: float = 1.0
    # evaluation on renders of a seed never used in fitting
    eval_seed: int = 1_000_003
    eval_identities: int = 100
    eval_faces: int = 256


# ---------------------------------------------------------------- data


def sample_views(identities: int, views: int, generator: torch.Generator):
    """FaceParams for `identities` × `views` faces: each identity's `views` consecutive rows share
    the identity coefficients and have everything else sampled independently."""
    world = _world()
    base = world.sample_params(identities, generator=generator)
    params = world.sample_params(identities * views, generator=generator)
    return attrs.evolve(params, identity=base.identity.repeat_interleave(views, dim=0))


def coefficients(params) -> torch.Tensor:
    """The regressor's targets: cat(identity, expression, pose) of world parameters."""
    return torch.cat([params.identity, params.expression, params.pose], dim=1)


def prior_statistics(generator: torch.Generator, n: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of the coefficients under the world's prior (floored, so a
    constant coefficient does not divide by zero)."""
    c = coefficients(_world().sample_params(n, generator=generator))
    return c.mean(0), c.std(0).clamp_min(1e-3)


class RenderPool:
    """A ring buffer of rendered faces, `views` renders per identity, with their coefficients and
    true landmarks. Rendering is the expensive part of fitting, so each render is reused for a
    while and the oldest identities are replaced by fresh ones as fitting goes on."""

    def __init__(self, identities: int, views: int, resolution: int, generator: torch.Generator):
        world = _world()
        self.identities, self.views, self.resolution, self.generator = identities, views, resolution, generator
        n, ncoef = identities * views, world.IDENTITY_DIM + world.EXPRESSION_DIM + 3
        self.images = torch.empty(n, 3, resolution, resolution, dtype=torch.float16)
        self.coeffs = torch.empty(n, ncoef)
        self.landmarks = torch.empty(n, 68, 2)
        self.next = 0
        self.rendered = 0

    def refresh(self, identities: int) -> None:
        """Render `identities` new identities (× views) into the oldest slots."""
        world = _world()
        identities = min(identities, self.identities)
        params = sample_views(identities, self.views, self.generator)
        with torch.no_grad():
            res = self.resolution
            large = (torch.arange(len(params)) % self.views == self.views - 1) & (self.views > 1)
            images = torch.empty(len(params), 3, res, res)
            images[~large] = world.render(params.map(lambda t: t[~large]), resolution=res)
            if large.any():
                images[large] = resample(world.render(params.map(lambda t: t[large]), resolution=2 * res), res)
            landmarks = world.project_landmarks(params.identity, params.expression, params.pose)
        rows = (torch.arange(identities * self.views) + self.next * self.views) % len(self.images)
        self.images[rows] = images.to(torch.float16)
        self.coeffs[rows] = coefficients(params)
        self.landmarks[rows] = landmarks
        self.next = (self.next + identities) % self.identities
        self.rendered += len(rows)

    def identity_batch(self, identities: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All views of `identities` random identities: (images, labels, identity coefficients)."""
        ids = torch.randperm(self.identities, generator=self.generator)[:identities]
        rows = (ids[:, None] * self.views + torch.arange(self.views)).flatten()
        labels = torch.arange(len(ids)).repeat_interleave(self.views)
        return self.images[rows].float(), labels, self.coeffs[rows]

    def face_batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`size` random renders: (images, coefficients, landmarks)."""
        rows = torch.randint(len(self.images), (size,), generator=self.generator)
        return self.images[rows].float(), self.coeffs[rows], self.landmarks[rows]


# ---------------------------------------------------------------- losses


def supervised_contrastive(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) of unit embeddings [N, D] with identity
    labels [N]: each anchor's other views are its positives, every other face its negatives."""
    logits = embeddings @ embeddings.t() / temperature
    self_mask = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    return -(log_prob.masked_fill(~positives, 0).sum(1) / positives.sum(1)).mean()


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

    embedder = SynthFaceEmbedder(dim=config.embedding_dim, backbone=config.backbone).train()
    id_head = torch.nn.Linear(config.embedding_dim, ni)  # auxiliary, discarded after fitting
    regressor = SynthFaceShapeModel(identity_dim=ni, expression_dim=world.EXPRESSION_DIM, backbone=config.backbone)
    regressor.coeff_mean.copy_(mean)
    regressor.coeff_std.copy_(std)
    regressor.train()
    learn_e = _Learner([*embedder.parameters(), *id_head.parameters()], config)
    learn_r = _Learner(regressor.parameters(), config)

    start = time.monotonic()
    pool = RenderPool(config.pool_identities, config.views, config.render_resolution, g)
    bar = tqdm(total=config.pool_identities, desc="rendering faces", disable=quiet, leave=False, file=sys.stderr)
    for _ in range(0, config.pool_identities, config.refresh_identities):
        pool.refresh(config.refresh_identities)
        bar.update(config.refresh_identities)
    bar.close()
    pool_seconds = time.monotonic() - start

    done = 0
    bar = tqdm(range(config.steps), desc="fitting", disable=quiet, leave=False, file=sys.stderr)
    for step in bar:
        if time.monotonic() > deadline:
            break
        if step and step % config.refresh_every == 0:
            pool.refresh(config.refresh_identities)

        images, labels, identity = pool.identity_batch(config.identities)
        emb = embedder(images)
        contrastive = supervised_contrastive(emb, labels, config.temperature)
        regression = F.mse_loss(id_head(emb), (identity[:, :ni] - mean[:ni]) / std[:ni])
        learn_e.step(contrastive + config.identity_regression_weight * regression)

        images, coeffs, landmarks = pool.face_batch(config.regressor_batch)
        pred = regressor(images)
        coeff_loss = F.mse_loss((pred - mean) / std, (coeffs - mean) / std)
        lm_loss = landmark_l1(regressor.landmarks(pred), landmarks)
        learn_r.step(coeff_loss + config.landmark_weight * lm_loss)

        done = step + 1
        if step % 10 == 0:
            bar.set_postfix(
                id=f"{learn_e.ema:.3f}",
                con=f"{contrastive.item():.3f}",
                coef=f"{coeff_loss.item():.3f}",
                lm=f"{lm_loss.item():.4f}",
            )
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
    return embedder.eval(), regressor.eval(), log


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def identity_retrieval(embedder, *, identities: int = 100, seed: int, resolution: int = 128) -> float:
    """Top-1 identity retrieval: a gallery of one render per identity, probes of another render of
    each identity with pose, expression, lighting and appearance resampled; the fraction of probes
    whose nearest gallery embedding (cosine) is their own identity."""
    world = _world()
    g = torch.Generator().manual_seed(seed)
    gallery = world.sample_params(identities, generator=g)
    probes = attrs.evolve(world.sample_params(identities, generator=g), identity=gallery.identity)
    eg = embedder(world.render(gallery, resolution=resolution))
    ep = embedder(world.render(probes, resolution=resolution))
    nearest = (ep @ eg.t()).argmax(dim=1)
    return (nearest == torch.arange(identities)).float().mean().item()


@torch.no_grad()
def landmark_error(shape_model, *, faces: int = 256, seed: int, resolution: int = 128) -> dict[str, float]:
    """Mean Euclidean distance between the landmarks of the regressed coefficients and the true
    landmarks, as a fraction of the image size; plus mean absolute pose error in degrees."""
    world = _world()
    g = torch.Generator().manual_seed(seed)
    params = world.sample_params(faces, generator=g)
    coeffs = shape_model(world.render(params, resolution=resolution))
    truth = world.project_landmarks(params.identity, params.expression, params.pose)
    error = (shape_model.landmarks(coeffs) - truth).norm(dim=-1).mean().item()
    pose_error = (shape_model.parts(coeffs)["pose"] - params.pose).abs().mean().item()
    return {"landmark_error": error, "pose_error_deg": pose_error}


def evaluate(embedder, shape_model, config: FitConfig) -> dict[str, float]:
    """The acceptance measures on fresh renders (seed `eval_seed`) at 64 and 128 px."""
    out = {}
    for res in (64, 128):
        out[f"identity_retrieval_{res}px"] = identity_retrieval(
            embedder, identities=config.eval_identities, seed=config.eval_seed, resolution=res
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
    tmp = out / f".{METRICS_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, out / METRICS_FILE)
    return report
