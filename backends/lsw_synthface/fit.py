"""Fitting the synthetic world's identity embedder and 3DMM regressor, and measuring them.

No dataset and no generator are needed: face parameters are sampled from the world's prior and
rendered directly, so every image comes with its exact identity, expression, pose and landmarks.

- Identity embedder: batches of `identities` faces, each rendered `views` times with everything
  but the identity resampled (pose, expression, lighting, appearance); a supervised contrastive
  loss pulls the views of one identity together and pushes the others apart, plus a small
  auxiliary regression of the identity coefficients from the embedding.
- Regressor: standardised coefficient regression (identity, expression, pose) plus an L1 loss on
  the 68 landmarks the coefficients project to, in image-size units.

`lsw synthface fit` runs both with fixed step counts and seeds, so the same command gives the
same weights on the same software; `--minutes` only caps the wall time (a capped run says so in
its json).
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
    render_resolution: int = 64
    backbone: BackboneConfig = BackboneConfig()
    embedding_dim: int = 128
    # identity embedder
    embedder_steps: int = 1500
    identities: int = 32
    views: int = 4
    temperature: float = 0.1
    identity_regression_weight: float = 0.5
    # regressor
    regressor_steps: int = 1500
    regressor_batch: int = 96
    landmark_weight: float = 20.0
    # optimiser (AdamW, linear warm-up then cosine decay, gradient clipping)
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
    """FaceParams for `identities` × `views` faces: each identity's `views` rows share the identity
    coefficients and have everything else sampled independently. Returns (params, labels)."""
    world = _world()
    base = world.sample_params(identities, generator=generator)
    params = world.sample_params(identities * views, generator=generator)
    params = attrs.evolve(params, identity=base.identity.repeat_interleave(views, dim=0))
    labels = torch.arange(identities).repeat_interleave(views)
    return params, labels


def coefficients(params) -> torch.Tensor:
    """The regressor's targets: cat(identity, expression, pose) of world parameters."""
    return torch.cat([params.identity, params.expression, params.pose], dim=1)


def prior_statistics(generator: torch.Generator, n: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of the coefficients under the world's prior (floored, so a
    constant coefficient does not divide by zero)."""
    c = coefficients(_world().sample_params(n, generator=generator))
    return c.mean(0), c.std(0).clamp_min(1e-3)


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


def _schedule(optimizer: torch.optim.Optimizer, steps: int, warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, steps - warmup))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _train(name, parameters, steps, loss_fn, config: FitConfig, deadline: float, quiet: bool) -> dict[str, Any]:
    """Generic loop: AdamW + warm-up/cosine + clipping until `steps` or `deadline`."""
    parameters = list(parameters)
    opt = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    sched = _schedule(opt, steps, config.warmup_steps)
    bar = tqdm(range(steps), desc=name, disable=quiet, leave=False, file=sys.stderr)
    ema, done, start = None, 0, time.monotonic()
    for step in bar:
        if time.monotonic() > deadline:
            break
        loss, logs = loss_fn(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, config.grad_clip)
        opt.step()
        sched.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        done = step + 1
        if step % 10 == 0:
            bar.set_postfix(loss=f"{ema:.4f}", **{k: f"{v:.4f}" for k, v in logs.items()})
    bar.close()
    return {"steps": done, "steps_planned": steps, "final_loss_ema": ema, "seconds": time.monotonic() - start}


def fit_embedder(config: FitConfig, generator: torch.Generator, deadline: float, quiet: bool = False):
    """Train a `SynthFaceEmbedder` from scratch; returns (net, log)."""
    world = _world()
    net = SynthFaceEmbedder(dim=config.embedding_dim, backbone=config.backbone).train()
    mean, std = prior_statistics(generator)
    ni = world.IDENTITY_DIM
    head = torch.nn.Linear(config.embedding_dim, ni)  # auxiliary, discarded after fitting

    def loss_fn(step):
        params, labels = sample_views(config.identities, config.views, generator)
        with torch.no_grad():
            images = world.render(params, resolution=config.render_resolution)
        emb = net(images)
        contrastive = supervised_contrastive(emb, labels, config.temperature)
        target = (params.identity - mean[:ni]) / std[:ni]
        regression = F.mse_loss(head(emb), target)
        loss = contrastive + config.identity_regression_weight * regression
        return loss, {"con": contrastive.item(), "reg": regression.item()}

    log = _train("identity embedder", [*net.parameters(), *head.parameters()], config.embedder_steps,
                 loss_fn, config, deadline, quiet)
    return net.eval(), log


def fit_regressor(config: FitConfig, generator: torch.Generator, deadline: float, quiet: bool = False):
    """Train a `SynthFaceShapeModel` from scratch; returns (net, log)."""
    world = _world()
    net = SynthFaceShapeModel(
        identity_dim=world.IDENTITY_DIM, expression_dim=world.EXPRESSION_DIM, backbone=config.backbone
    ).train()
    mean, std = prior_statistics(generator)
    net.coeff_mean.copy_(mean)
    net.coeff_std.copy_(std)

    def loss_fn(step):
        params = world.sample_params(config.regressor_batch, generator=generator)
        with torch.no_grad():
            images = world.render(params, resolution=config.render_resolution)
            target_landmarks = world.project_landmarks(params.identity, params.expression, params.pose)
        pred = net(images)
        coeff = F.mse_loss((pred - mean) / std, (coefficients(params) - mean) / std)
        landmarks = landmark_l1(net.landmarks(pred), target_landmarks)
        loss = coeff + config.landmark_weight * landmarks
        return loss, {"coef": coeff.item(), "lm": landmarks.item()}

    log = _train("3DMM regressor", net.parameters(), config.regressor_steps, loss_fn, config, deadline, quiet)
    return net.eval(), log


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
        budget = config.minutes * 60
        total = max(1, config.embedder_steps + config.regressor_steps)
        torch.manual_seed(config.seed)
        g = torch.Generator().manual_seed(config.seed)
        embedder, emb_log = fit_embedder(config, g, start + budget * config.embedder_steps / total, quiet)
        g = torch.Generator().manual_seed(config.seed + 1)
        regressor, reg_log = fit_regressor(config, g, start + budget, quiet)
        train_seconds = time.monotonic() - start
        save_net(embedder, out / EMBEDDER_FILE)
        save_net(regressor, out / REGRESSOR_FILE)
        metrics = evaluate(build_embedder(out / EMBEDDER_FILE), build_shape_model(out / REGRESSOR_FILE), config)
    finally:
        torch.set_num_threads(threads)
    capped = emb_log["steps"] < config.embedder_steps or reg_log["steps"] < config.regressor_steps
    report = {
        "command": command,
        "settings": attrs.asdict(config),
        "embedder": emb_log,
        "regressor": reg_log,
        "stopped_by_time_cap": capped,
        "train_seconds": train_seconds,
        "metrics": metrics,
        "environment": {"torch": torch.__version__, "python": platform.python_version(), "threads": config.threads},
    }
    tmp = out / f".{METRICS_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, out / METRICS_FILE)
    return report
