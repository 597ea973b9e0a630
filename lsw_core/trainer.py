"""MixerTrainer: trains a latent mixer on randomly sampled latent pairs of a frozen generator.

Per step (paper, "Training Procedure"; the authors' code for the details): z_s, z_t ~ N(0, I); with
probability `same_pair_prob` the target is the source; map with truncation ψ on the first `cutoff`
rows; synthesise source, target and swap with random noise; minimise L_id + λ·L_lp + μ·L_shape with
AdamW and gradient clipping. Only the mixer learns; gradients flow through the frozen generator.

The output folder is a mixer folder (`config.json` + `mixer.safetensors`) plus `trainer_state.pt`
(optimizer and RNG states), `log.jsonl` and `samples/`. Resuming from it continues exactly where the
last checkpoint stopped: on CPU the result equals an uninterrupted run bit for bit.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import torch
from tqdm.auto import tqdm

from lsw_core import latents
from lsw_core.calibration import describe, measure_scales
from lsw_core.checkpoint import (
    CONFIG_NAME,
    load_training_state,
    mixer_config,
    read_config,
    save_mixer,
    save_training_state,
)
from lsw_core.errors import CheckpointError, LswError, SettingError, TrainingDiverged
from lsw_core.gated_mixer import MIXER_KINDS, make_mixer
from lsw_core.identity_loss import IDENTITY_LOSSES, RobustIdentityLoss
from lsw_core.imageio import resize, save_image, stack_rows
from lsw_core.interfaces import NOISE_MODES, Generator, IdentityEmbedder, ShapeModel
from lsw_core.losses import LatentSwapLoss
from lsw_core.mixer import DEFAULT_DEPTH, check_depth
from lsw_core.plugins import load_generator, load_identity_embedder, load_shape_model
from lsw_core.runs import LOG_NAME, STATE_NAME, claim, clear_run, read_log, resumed_settings, write_log
from lsw_core.validators import choice, integer, number, optional, options, pair, text

#: Settings `resume` may change: they alter neither the model nor the data it is trained on.
RESUMABLE = ("steps", "max_minutes", "device", "log_every", "sample_every", "checkpoint_every")
#: A setting taken from the generator's `training_defaults`.
GENERATOR_DEFAULT = "generator"


def _cutoff_or_default(instance, attribute, value):
    if value != GENERATOR_DEFAULT:
        integer(ge=0)(instance, attribute, value)


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Training settings. Defaults are the paper's (λ = 100, μ = 0.1, AdamW lr 1e-4, batch 64,
    200 k steps) and the authors' code's (same-pair probability 0.2, ψ = 0.5 on the first 8 rows,
    clipping 1.0); the paper's text gives 1/8 for the same-pair probability."""

    generator: str = attrs.field(validator=text())
    generator_options: dict[str, Any] = attrs.field(factory=dict, validator=options())
    embedder: str | None = attrs.field(default=None, validator=optional(text()))
    embedder_options: dict[str, Any] = attrs.field(factory=dict, validator=options())
    shape_model: str | None = attrs.field(default=None, validator=optional(text()))
    shape_model_options: dict[str, Any] = attrs.field(factory=dict, validator=options())
    space: str = attrs.field(default="w+", validator=lambda i, a, v: latents.check_space(v))
    lambda_lp: float = attrs.field(default=100.0, validator=number(ge=0))
    mu_shape: float = attrs.field(default=0.1, validator=number(ge=0))
    same_pair_prob: float = attrs.field(default=0.2, validator=number(ge=0, le=1))
    #: None: the generator's `training_defaults` (StyleGAN2: the authors' ψ = 0.5 on 8 rows).
    truncation_psi: float | None = attrs.field(default=None, validator=optional(number()))
    #: Rows truncated (None: all); GENERATOR_DEFAULT: the generator's `training_defaults`.
    truncation_cutoff: int | str | None = attrs.field(default=GENERATOR_DEFAULT, validator=optional(_cutoff_or_default))
    residual_coefficient: float = attrs.field(default=1.0, validator=number())
    mixer_depth: int = attrs.field(default=DEFAULT_DEPTH, validator=lambda i, a, v: check_depth(v))
    #: "paper": L_id on the clean swap, exactly the paper's; "augmented": `RobustIdentityLoss`.
    identity_loss: str = attrs.field(default="paper", validator=choice(*IDENTITY_LOSSES))
    #: Random views per pair for the augmented identity loss.
    id_views: int = attrs.field(default=2, validator=integer(gt=0))
    #: Further identity embedders (plugin name → weight) added to L_id; the main one weighs 1.
    extra_embedders: dict[str, float] = attrs.field(factory=dict, validator=options())
    #: λ is relative to the measured loss scales: λ_eff = λ · scale(L_id) / scale(L_lp), where
    #: scale(L_id) is L_id of the target as the swap and scale(L_lp) is L_lp of the source as the swap.
    lambda_relative: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))
    calibration_batches: int = attrs.field(default=2, validator=integer(gt=0))
    #: "paper" (`LatentMixer`) or "gated" (`GatedLatentMixer`, starting at l_t + gate_init·(l_s − l_t)).
    mixer_kind: str = attrs.field(default="paper", validator=choice(*MIXER_KINDS))
    gate_init: float = attrs.field(default=0.5, validator=number())
    batch_size: int = attrs.field(default=64, validator=integer(gt=0))
    steps: int = attrs.field(default=200_000, validator=integer(gt=0))
    lr: float = attrs.field(default=1e-4, validator=number(gt=0))
    betas: tuple[float, float] = attrs.field(
        default=(0.9, 0.999),
        converter=lambda v: tuple(v) if isinstance(v, list) else v,
        validator=pair(number(ge=0, lt=1)),
    )
    weight_decay: float = attrs.field(default=0.01, validator=number(ge=0))
    grad_clip: float | None = attrs.field(default=1.0, validator=optional(number(gt=0)))
    noise_mode: str = attrs.field(default="random", validator=choice(*NOISE_MODES))
    seed: int = attrs.field(default=0, validator=integer(ge=0, lt=2**64))
    device: str = attrs.field(default="cpu", validator=text())
    log_every: int = attrs.field(default=10, validator=integer(gt=0))
    sample_every: int = attrs.field(default=1000, validator=integer(gt=0))
    checkpoint_every: int = attrs.field(default=1000, validator=integer(gt=0))
    max_minutes: float | None = attrs.field(default=None, validator=optional(number(gt=0)))

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {a.name for a in attrs.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingError(f"{', '.join(unknown)}: unknown training setting; known: {', '.join(sorted(known))}")
        missing = [a.name for a in attrs.fields(cls) if a.default is attrs.NOTHING and a.name not in data]
        if missing:
            raise SettingError(f"{missing[0]}: missing (a required training setting)")
        return cls(**data)


def make_adamw(module: torch.nn.Module, **kwargs: Any) -> torch.optim.AdamW:
    """AdamW, fused where this torch build supports it: on CPU the fused update of the 56.7 M mixer
    parameters is about 7x faster than the per-tensor loop, with the same arithmetic."""
    try:
        return torch.optim.AdamW(module.parameters(), fused=True, **kwargs)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(module.parameters(), **kwargs)


def finite_weights(module: torch.nn.Module) -> torch.Tensor:
    """Whether every parameter of `module` is finite, as a device bool. Minimum and maximum carry
    any NaN or inf, and need no tensor of flags: 0.07 s against 1.3-2.0 s for `isfinite(p).all()`
    on the 56.7 M mixer parameters, one CPU thread (bench/finite_check.py)."""
    extremes = torch.stack([v for p in module.parameters() for v in torch.aminmax(p.detach())])
    return torch.isfinite(extremes).all()


class MixerTrainer:
    """Train a `LatentMixer` for `config.generator` into the folder `out`.

    Components are loaded by plugin name from the config unless given as objects (Python API).
    `existing` says what to do with a folder that is not empty: "refuse" (an error), "overwrite"
    (remove the earlier run's files and start over) or "resume" (used by `resume`). The folder is
    locked against other writers from construction until `train` returns."""

    def __init__(
        self,
        config: TrainConfig,
        out: str | os.PathLike,
        *,
        generator: Generator | None = None,
        embedder: IdentityEmbedder | None = None,
        shape_model: ShapeModel | None = None,
        progress: bool = True,
        existing: str = "refuse",
    ) -> None:
        self.out = Path(out)
        self.progress = progress
        self.lock = claim(self.out, existing)
        self._start_over = existing == "overwrite"  # done in `train`, once nothing can fail to load
        try:
            self._build(config, generator, embedder, shape_model)
        except BaseException:
            self.lock.release()
            raise

    def _build(
        self,
        config: TrainConfig,
        generator: Generator | None,
        embedder: IdentityEmbedder | None,
        shape_model: ShapeModel | None,
    ) -> None:
        device = torch.device(config.device)
        G = generator or load_generator(config.generator, **config.generator_options)
        defaults = G.training_defaults
        config = attrs.evolve(
            config,
            truncation_psi=defaults.truncation_psi if config.truncation_psi is None else config.truncation_psi,
            truncation_cutoff=defaults.truncation_cutoff
            if config.truncation_cutoff == GENERATOR_DEFAULT
            else config.truncation_cutoff,
        )
        self.config = config
        embedder_name = config.embedder or defaults.embedder
        shape_name = config.shape_model or defaults.shape_model
        if embedder is None and not embedder_name:
            raise LswError(f"generator {config.generator!r} names no default identity embedder: pass --embedder")
        if config.mu_shape > 0 and shape_model is None and not shape_name:
            raise LswError(
                f"μ = {config.mu_shape} weighs L_shape, but generator {config.generator!r} names no shape model: "
                "pass --shape-model NAME, or --mu 0 to train without L_shape"
            )
        if embedder is None:
            embedder = load_identity_embedder(embedder_name, **config.embedder_options)
        if shape_model is None and shape_name and config.mu_shape > 0:
            shape_model = load_shape_model(shape_name, **config.shape_model_options)
        extra = [(load_identity_embedder(name), weight) for name, weight in config.extra_embedders.items()]
        self.generator, self.embedder, self.shape_model = (
            m.to(device).eval().requires_grad_(False) if m is not None else None for m in (G, embedder, shape_model)
        )
        extra = [(e.to(device).eval().requires_grad_(False), w) for e, w in extra]
        self.components = {"embedder": embedder_name, "shape_model": shape_name if shape_model is not None else None}
        rows, width = latents.mixer_shape(self.generator, config.space)
        torch.manual_seed(config.seed)
        options = {"gate_init": config.gate_init} if config.mixer_kind == "gated" else {}
        self.mixer = make_mixer(
            config.mixer_kind,
            num_rows=rows,
            w_dim=width,
            residual_coefficient=config.residual_coefficient,
            depth=config.mixer_depth,
            **options,
        ).to(device)
        identity = None
        if config.identity_loss == "augmented" or extra:
            views = config.id_views if config.identity_loss == "augmented" else 0
            identity = RobustIdentityLoss([(self.embedder, 1.0), *extra], samples=views)
        self.loss = LatentSwapLoss(
            self.embedder, self.shape_model, lambda_lp=config.lambda_lp, mu_shape=config.mu_shape, identity=identity
        )
        self.calibration = measure_scales(self, config.calibration_batches)
        if config.lambda_relative:
            self.loss.lambda_lp = config.lambda_lp * self.calibration["id"] / self.calibration["lp"]
        self.calibration["lambda_effective"] = self.loss.lambda_lp
        self.optimizer = make_adamw(self.mixer, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
        self.rng = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.checkpoint_step: int | None = None
        # Whether every loss since the start is finite, kept on the device so that steps need no
        # host sync; read when logging and before anything is written.
        self._finite = torch.ones((), dtype=torch.bool, device=device)

    # --- the training step -----------------------------------------------------------------

    def sample_pairs(self, batch: int, rng: torch.Generator) -> dict[str, Any]:
        """Source/target z with the same-pair probability, and cameras and extra synthesis arguments
        (e.g. StyleNeRF's background code) from the backend's prior, one draw per pair."""
        G, cfg = self.generator, self.config
        z_s = torch.randn(batch, G.z_dim, generator=rng)
        z_t = torch.randn(batch, G.z_dim, generator=rng)
        same = torch.rand(batch, generator=rng) < cfg.same_pair_prob
        z_t = torch.where(same[:, None], z_s, z_t)
        camera = G.camera.sample(batch, generator=rng) if G.camera is not None else None
        return {"z_s": z_s, "z_t": z_t, "camera": camera, "synthesis": G.sample_synthesis_kwargs(batch, rng)}

    def swap_batch(
        self,
        z_s: torch.Tensor,
        z_t: torch.Tensor,
        camera: Any,
        noise_mode: str,
        synthesis: dict[str, Any] | None = None,
    ) -> dict[str, torch.Tensor]:
        G, cfg = self.generator, self.config
        synthesis = synthesis or {}
        device = torch.device(cfg.device)
        z_s, z_t = z_s.to(device), z_t.to(device)
        psi, cutoff = cfg.truncation_psi, cfg.truncation_cutoff

        def render(code: torch.Tensor) -> torch.Tensor:
            ws = latents.decode(G, code, cfg.space, psi, cutoff)
            return G.synthesis(ws, camera=camera, noise_mode=noise_mode, **synthesis)

        with torch.no_grad():
            l_s = latents.encode(G, z_s, cfg.space, psi, cutoff)
            l_t = latents.encode(G, z_t, cfg.space, psi, cutoff)
            img_s, img_t = render(l_s), render(l_t)
        l_swap = self.mixer(l_s, l_t)
        img_swap = render(l_swap)
        return {"l_s": l_s, "l_t": l_t, "l_swap": l_swap, "source": img_s, "target": img_t, "swap": img_swap}

    def train_step(self) -> dict[str, float]:
        self.mixer.train()
        pairs = self.sample_pairs(self.config.batch_size, self.rng)
        out = self.swap_batch(**pairs, noise_mode=self.config.noise_mode)
        total, terms = self.loss(
            source_image=out["source"],
            target_image=out["target"],
            swap_image=out["swap"],
            target_latent=out["l_t"],
            swap_latent=out["l_swap"],
        )
        self.optimizer.zero_grad(set_to_none=True)
        self._finite &= torch.isfinite(total.detach())
        total.backward()
        if self.config.grad_clip:
            terms["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.mixer.parameters(), self.config.grad_clip))
        self.optimizer.step()
        self.step += 1
        return terms

    # --- the loop ----------------------------------------------------------------------------

    def train(self) -> Path:
        """Run until `config.steps` (or `max_minutes`), logging, sampling and checkpointing."""
        cfg = self.config
        self.lock.acquire()
        if self._start_over:
            clear_run(self.out)
            self._start_over = False
        if self.step == 0:
            self._log({"step": 0, "calibration": self.calibration})
        tqdm.write(describe(self.calibration, self.loss.lambda_lp, self.config.mu_shape), file=sys.stderr)
        start = time.monotonic()
        bar = tqdm(total=cfg.steps, initial=self.step, desc="train mixer", unit="step", disable=not self.progress)
        try:
            while self.step < cfg.steps:
                terms = self.train_step()
                bar.update(1)
                bar.set_postfix({k: f"{v:.4g}" for k, v in terms.items() if k in ("id", "lp", "shape")}, refresh=False)
                if self.step % cfg.log_every == 0:
                    self._log({"step": self.step, **terms, "elapsed_s": round(time.monotonic() - start, 3)})
                if self.step % cfg.sample_every == 0:
                    self.save_samples()
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
                if cfg.max_minutes is not None and time.monotonic() - start > cfg.max_minutes * 60:
                    bar.write(f"time budget of {cfg.max_minutes} min reached at step {self.step}")
                    break
            self.save()
        finally:
            bar.close()
            self.lock.release()
        return self.out

    def check_finite(self, weights: bool = False) -> None:
        """Raise `TrainingDiverged` if a loss so far (and with `weights`, a mixer weight) is NaN or
        infinite; the files in the folder are then still those of the last good checkpoint."""
        finite = self._finite
        if weights:
            finite = finite & finite_weights(self.mixer)
        if bool(finite):
            return
        kept = (
            f"{self.out} keeps the last good checkpoint (step {self.checkpoint_step})"
            if self.checkpoint_step is not None
            else "no checkpoint was written"
        )
        raise TrainingDiverged(
            f"training stopped at step {self.step}: the loss became NaN or infinite; {kept}. "
            "A lower --lr or --lambda usually avoids this"
        )

    def _log(self, record: dict[str, Any]) -> None:
        self.check_finite()
        with open(self.out / LOG_NAME, "a") as f:
            f.write(json.dumps(record) + "\n")

    @torch.no_grad()
    def save_samples(self, pairs: int = 6) -> Path:
        """A PNG of fixed validation pairs: sources, targets and swaps in three rows."""
        self.check_finite()
        self.mixer.eval()
        fixed = self.sample_pairs(pairs, torch.Generator().manual_seed(2**31 - 1))
        out = self.swap_batch(**fixed, noise_mode="const")
        size = min(self.generator.resolution, 128)
        rows = ("source", "target", "swap")
        grid = stack_rows([resize(out[k].cpu(), size) for k in rows], labels=rows)
        path = self.out / "samples" / f"step_{self.step:07d}.png"
        path.parent.mkdir(exist_ok=True)
        save_image(grid, path)
        return path

    # --- checkpoints -------------------------------------------------------------------------

    def save(self) -> None:
        """Write the mixer folder, then the training state (the resume point), each atomically;
        never weights that went NaN."""
        self.check_finite(weights=True)
        config = mixer_config(
            self.mixer,
            backend=self.config.generator,
            layout=self.generator.latent_layout,
            space=self.config.space,
            step=self.step,
            components=self.components,
            training=self.config.to_dict(),
        )
        save_mixer(self.out, self.mixer, config)
        state = {
            "step": self.step,
            "mixer": self.mixer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        save_training_state(self.out / STATE_NAME, state)
        self.checkpoint_step = self.step

    @classmethod
    def resume(
        cls,
        out: str | os.PathLike,
        *,
        progress: bool = True,
        flags: dict[str, str] | None = None,
        **overrides: Any,
    ) -> MixerTrainer:
        """Continue the run in `out` from its last checkpoint. `overrides` may change the settings
        in `RESUMABLE`; any other may only repeat its saved value (`flags` names settings in the
        error, e.g. {"lr": "--lr"})."""
        out = Path(out)
        if not (out / STATE_NAME).is_file():
            raise LswError(f"{out}: nothing to resume (no {STATE_NAME}); start a run with `lsw train --out {out}`")
        config = resumed_settings(saved_training(out), overrides, RESUMABLE, flags)
        log = read_log(out / LOG_NAME)
        trainer = cls(config, out, progress=progress, existing="resume")
        try:
            state = load_training_state(out / STATE_NAME)
            trainer.mixer.load_state_dict(state["mixer"])
            trainer.optimizer.load_state_dict(state["optimizer"])
            trainer.rng.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])
            if "cuda_rng" in state and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["cuda_rng"])
            trainer.step = trainer.checkpoint_step = state["step"]
            # A killed run may have logged past its checkpoint, the last line torn.
            write_log(out / LOG_NAME, [line for step, line in log if step <= trainer.step])
        except BaseException:
            trainer.lock.release()
            raise
        return trainer


def saved_training(folder: str | os.PathLike) -> TrainConfig:
    """The training settings recorded in a run folder's `config.json` (checked by `read_config`)."""
    training = read_config(folder).get("training")
    if training is None:
        raise CheckpointError(f"{Path(folder) / CONFIG_NAME}: no 'training' settings, so there is no run to resume")
    return TrainConfig.from_dict(training)
