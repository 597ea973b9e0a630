"""MixerTrainer: trains a latent mixer on randomly sampled latent pairs of a frozen generator.

Per step (paper, "Training Procedure"; the authors' code for the details): z_s, z_t ~ N(0, I); with
probability `same_pair_prob` the target is the source; map with truncation ψ on the first `cutoff`
rows; synthesise source, target and swap with random noise; minimise L_id + λ·L_lp + μ·L_shape with
AdamW and gradient clipping. Only the mixer learns; gradients flow through the frozen generator.

The pairs of step k are drawn on the training device from a generator seeded by (seed, k) and are
the same whatever the split: a batch processed in micro-batches, or over several processes under
torchrun (each rank takes its slice of the global batch), sees the pairs of the whole batch. The
synthesis noise of a chunk of pairs comes from torch's global RNG seeded by (seed, k, index of the
chunk's first pair), so runs with the same chunk size (`micro_batch`) draw the same noise for the same
pair; training reseeds torch's global RNG at every chunk for this.

The output folder is a mixer folder (`config.json` + `mixer.safetensors`) plus `trainer_state.pt`
(optimizer state), `log.jsonl` and `samples/`, written by rank 0 alone. Resuming from it continues
exactly where the last checkpoint stopped: on CPU the result equals an uninterrupted run bit for bit.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from tqdm.auto import tqdm

from lsw_core.camera import Camera
from lsw_core.devices import resolve_device
from lsw_core.errors import CheckpointError, LswError, TrainingDiverged
from lsw_core.formats.artifacts import write_together
from lsw_core.images import resize, save_image, stack_rows
from lsw_core.interfaces import Generator, IdentityEmbedder, ShapeModel, SupportsActivationCheckpointing
from lsw_core.mixing import latents
from lsw_core.mixing.mixer import make_mixer
from lsw_core.plugins import load_generator, load_identity_embedder, load_shape_model
from lsw_core.training import distributed
from lsw_core.training.calibration import describe, measure_scales
from lsw_core.training.config import GENERATOR_DEFAULT, RESUMABLE, TrainConfig, saved_training
from lsw_core.training.identity_loss import RobustIdentityLoss
from lsw_core.training.losses import LatentSwapLoss
from lsw_core.training.precision import networks_autocast
from lsw_core.training.run_folder import (
    LOG_NAME,
    STATE_NAME,
    claim,
    clear_run,
    load_training_state,
    read_log,
    resumed_settings,
    save_training_state,
    write_log,
)


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
        self.device = resolve_device(config.device)
        distributed.check_layout(config.batch_size)  # before the process group: one line, from rank 0
        self.ranks = distributed.setup(self.device)
        # Rank 0 alone owns the folder: the others neither lock nor write it.
        self.lock = claim(self.out, existing) if self.ranks.is_main else _NoLock()
        self._start_over = existing == "overwrite" and self.ranks.is_main  # done in `train`
        try:
            self._build(config, generator, embedder, shape_model)
            if existing != "resume":  # a resumed run reuses the scales its checkpoint recorded
                self.calibrate()
        except BaseException:
            self.lock.abandon()
            raise

    def _build(
        self,
        config: TrainConfig,
        generator: Generator | None,
        embedder: IdentityEmbedder | None,
        shape_model: ShapeModel | None,
    ) -> None:
        device = self.device
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
        if config.activation_checkpointing:
            if not isinstance(self.generator, SupportsActivationCheckpointing):
                raise LswError(f"generator {config.generator!r} does not support activation checkpointing")
            self.generator.set_activation_checkpointing(True)
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
        #: The moving average of the mixer weights (`ema_decay` > 0), else None.
        self.ema = copy.deepcopy(self.mixer).requires_grad_(False) if config.ema_decay else None
        identity = None
        if config.identity_loss == "augmented" or extra:
            views = config.id_views if config.identity_loss == "augmented" else 0
            identity = RobustIdentityLoss([(self.embedder, 1.0), *extra], samples=views)
        self.loss = LatentSwapLoss(
            self.embedder,
            self.shape_model,
            lambda_lp=config.lambda_lp,
            mu_shape=config.mu_shape,
            identity=identity,
            keep_weight=config.keep_weight,
            keep_centre=config.keep_centre,
            keep_power=config.keep_power,
            contrast_weight=config.contrast_weight,
            contrast_margin=config.contrast_margin,
            id_resolution=config.id_resolution,
        )
        self.calibration: dict[str, float] = {}
        self.optimizer = make_adamw(self.mixer, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
        self.step = 0
        self.checkpoint_step: int | None = None
        #: Seconds of each optimiser step this trainer ran: the step alone, without logging,
        #: samples or checkpoints (on CUDA, the time to queue it unless a log line waited for it).
        self.step_seconds: list[float] = []
        # Whether every loss since the start is finite, kept on the device so that steps need no
        # host sync; read when logging and before anything is written.
        self._finite = torch.ones((), dtype=torch.bool, device=device)

    # --- the training step -----------------------------------------------------------------

    def pair_stream(self, step: int) -> torch.Generator:
        """The generator the pairs of `step` are drawn from, on the training device."""
        return torch.Generator(self.device).manual_seed(_mix_seed(self.config.seed, step))

    def sample_pairs(self, batch: int, rng: torch.Generator) -> dict[str, Any]:
        """Source/target z with the same-pair probability, and cameras and extra synthesis arguments
        (e.g. StyleNeRF's background code) from the backend's prior, one draw per pair, on the
        device of `rng`."""
        G, cfg = self.generator, self.config
        z_s = torch.randn(batch, G.z_dim, generator=rng, device=rng.device)
        z_t = torch.randn(batch, G.z_dim, generator=rng, device=rng.device)
        same = torch.rand(batch, generator=rng, device=rng.device) < cfg.same_pair_prob
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
        mixer: torch.nn.Module | None = None,
    ) -> dict[str, torch.Tensor]:
        """Source, target and swap (of `mixer`, default the trained one) of the pairs `z_s`, `z_t`."""
        G, cfg = self.generator, self.config
        synthesis = synthesis or {}
        z_s, z_t = z_s.to(self.device), z_t.to(self.device)
        psi, cutoff = cfg.truncation_psi, cfg.truncation_cutoff

        def render(code: torch.Tensor) -> torch.Tensor:
            ws = latents.decode(G, code, cfg.space, psi, cutoff)
            with networks_autocast(cfg.precision, self.device):
                return G.synthesis(ws, camera=camera, noise_mode=noise_mode, **synthesis)

        with torch.no_grad():
            l_s = latents.encode(G, z_s, cfg.space, psi, cutoff)
            l_t = latents.encode(G, z_t, cfg.space, psi, cutoff)
            img_s, img_t = render(l_s), render(l_t)
        l_swap = (self.mixer if mixer is None else mixer)(l_s, l_t)
        img_swap = render(l_swap)
        return {"l_s": l_s, "l_t": l_t, "l_swap": l_swap, "source": img_s, "target": img_t, "swap": img_swap}

    def train_step(self) -> dict[str, torch.Tensor]:
        """One optimiser step on the global batch; returns this rank's share of the loss terms
        (0-d tensors, summed over ranks and read only on logging steps: see `gather_terms`)."""
        cfg, ranks = self.config, self.ranks
        self.mixer.train()
        pairs = self.sample_pairs(cfg.batch_size, self.pair_stream(self.step))
        share = cfg.batch_size // ranks.world_size
        first = ranks.rank * share
        chunk = min(cfg.micro_batch or share, share)
        self.optimizer.zero_grad(set_to_none=True)
        terms: dict[str, torch.Tensor] = {}
        for start in range(first, first + share, chunk):
            stop = min(start + chunk, first + share)
            torch.manual_seed(_mix_seed(cfg.seed, self.step, start))  # the chunk's synthesis noise
            out = self.swap_batch(**_rows(pairs, start, stop), noise_mode=cfg.noise_mode)
            with networks_autocast(cfg.precision, self.device):
                total, chunk_terms = self.loss(
                    source_image=out["source"],
                    target_image=out["target"],
                    swap_image=out["swap"],
                    target_latent=out["l_t"],
                    swap_latent=out["l_swap"],
                )
            self._finite &= torch.isfinite(total.detach())
            weight = (stop - start) / cfg.batch_size  # the loss is a mean over the global batch
            (total * weight).backward()
            for k, v in chunk_terms.items():
                terms[k] = terms[k] + v * weight if k in terms else v * weight
        grads = [p.grad for p in self.mixer.parameters() if p.grad is not None]
        distributed.sum_over_ranks_(grads, ranks)
        if cfg.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(self.mixer.parameters(), cfg.grad_clip)
            terms["grad_norm"] = norm / ranks.world_size  # every rank holds the global norm
        self.optimizer.step()
        if self.ema is not None:
            with torch.no_grad():
                torch._foreach_lerp_(list(self.ema.parameters()), list(self.mixer.parameters()), 1 - cfg.ema_decay)
        self.step += 1
        return terms

    @property
    def swap_mixer(self) -> torch.nn.Module:
        """The mixer the folder holds and the samples show: the weights' moving average when
        `ema_decay` > 0, else the trained weights themselves."""
        return self.ema if self.ema is not None else self.mixer

    def gather_terms(self, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The batch's loss terms as numbers (waits for the device; sums the ranks' shares)."""
        names = sorted(terms)
        values = torch.stack([terms[k].float() for k in names])
        distributed.sum_over_ranks_([values], self.ranks)
        return dict(zip(names, values.tolist()))

    # --- the loop ----------------------------------------------------------------------------

    def train(self, on_step: Callable[[MixerTrainer], None] | None = None) -> Path:
        """Run until `config.steps` (or `max_minutes`), logging, sampling and checkpointing;
        `on_step(self)` is called after each step, before its log line, samples and checkpoint."""
        cfg, ranks = self.config, self.ranks
        if not self.calibration:
            self.calibrate()
        self.lock.acquire()
        if self._start_over:
            clear_run(self.out)
            self._start_over = False
        if ranks.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            if self.step == 0:
                self._log({"step": 0, "calibration": self.calibration})
            if self.progress:
                tqdm.write(
                    describe(self.calibration, self.loss.lambda_lp, self.loss.mu_shape, self.loss.keep_weight),
                    file=sys.stderr,
                )
        start = time.monotonic()
        bar = _progress_bar(cfg, self.step, enabled=self.progress and ranks.is_main)
        try:
            while self.step < cfg.steps:
                began = time.monotonic()
                terms = self.train_step()
                self.step_seconds.append(time.monotonic() - began)
                if on_step is not None:
                    on_step(self)
                elapsed = time.monotonic() - start
                over_budget = cfg.max_minutes is not None and elapsed > cfg.max_minutes * 60
                if ranks.distributed:  # the ranks decide together, on logging steps only
                    terms["stop"] = torch.tensor(float(over_budget), device=self.device)
                    over_budget = False
                if any(self.step % every == 0 for every in (cfg.log_every, cfg.sample_every, cfg.checkpoint_every)):
                    self.agree_finite()  # before anything is written
                if self.step % cfg.log_every == 0:
                    values = self.gather_terms(terms)
                    over_budget = over_budget or values.pop("stop", 0.0) > 0
                    if ranks.is_main:
                        self._log({"step": self.step, **values, "elapsed_s": round(elapsed, 3)})
                    shown = {k: f"{v:.4g}" for k, v in values.items() if k in ("id", "lp", "shape", "keep", "contrast")}
                    bar.set_postfix({"step": self.step, **shown} if cfg.max_minutes else shown, refresh=False)
                bar.update(min(elapsed, bar.total) - bar.n if cfg.max_minutes else 1)
                if ranks.is_main and self.step % cfg.sample_every == 0:
                    self.save_samples()
                if self.step % cfg.checkpoint_every == 0:
                    self.checkpoint()
                if over_budget:
                    bar.write(f"time budget of {cfg.max_minutes} min reached at step {self.step}")
                    break
            self.checkpoint()
        except OSError as exc:  # a full disk, a quota, a folder gone read-only: the run stays resumable
            kept = (
                f"{self.out} keeps the checkpoint of step {self.checkpoint_step}"
                if self.checkpoint_step is not None
                else f"no checkpoint was written to {self.out}"
            )
            resume = f"; free space and continue with `lsw train --resume {self.out}`" if self.checkpoint_step else ""
            raise LswError(
                f"training stopped at step {self.step}: writing {exc.filename or self.out} failed "
                f"({exc.strerror or exc}); {kept}{resume}"
            ) from None
        finally:
            bar.close()
            self.lock.release()
        distributed.teardown(ranks)
        return self.out

    def calibrate(self, scales: dict[str, float] | None = None) -> None:
        """Set the loss weights from the loss scales: measured (rank 0's, on every rank) unless given,
        e.g. from a checkpoint, so that a resumed run weighs its terms exactly as before."""
        cfg = self.config
        if scales is None:
            scales = measure_scales(self, cfg.calibration_batches)
            if self.ranks.distributed:
                names = sorted(scales)
                mine = [scales[k] if self.ranks.is_main else 0.0 for k in names]
                values = torch.tensor(mine, dtype=torch.float64, device=self.device)
                distributed.sum_over_ranks_([values], self.ranks)
                scales = dict(zip(names, values.tolist()))
        scales = {k: v for k, v in scales.items() if not k.endswith("_effective")}
        if cfg.lambda_relative:
            self.loss.lambda_lp = cfg.lambda_lp * scales["id"] / scales["lp"]
            if cfg.keep_weight:
                self.loss.keep_weight = cfg.keep_weight * scales["id"] / scales["keep"]
        if cfg.mu_relative and "shape_source" in scales:
            self.loss.mu_shape = cfg.mu_shape * scales["id"] / max(scales["shape_source"], 1e-12)
        self.calibration = {**scales, "lambda_effective": self.loss.lambda_lp}
        if cfg.keep_weight:
            self.calibration["keep_effective"] = self.loss.keep_weight
        if cfg.mu_relative and "shape_source" in scales:
            self.calibration["mu_effective"] = self.loss.mu_shape

    def agree_finite(self) -> None:
        """Stop every rank together when any rank's loss went NaN or infinite: the ranks' flags are
        combined before each rank checks (a rank that stopped alone would leave the others waiting
        in their next all-reduce)."""
        if self.ranks.distributed:
            infinite = (~self._finite).float().reshape(1)
            distributed.sum_over_ranks_([infinite], self.ranks)
            self._finite = infinite[0] == 0
        self._check_on_every_rank()

    def checkpoint(self) -> None:
        """Every rank checks the losses and the mixer (identical on all ranks) before rank 0 saves."""
        self.agree_finite()
        self._check_on_every_rank(weights=True)
        if self.ranks.is_main:
            self.save()

    def _check_on_every_rank(self, weights: bool = False) -> None:
        """`check_finite` on values every rank shares: a stop is then every rank's, which the command
        line uses to let rank 0 report it before any rank exits."""
        try:
            self.check_finite(weights=weights)
        except TrainingDiverged as exc:
            exc.every_rank = self.ranks.distributed
            raise

    def check_finite(self, weights: bool = False) -> None:
        """Raise `TrainingDiverged` if a loss so far (and with `weights`, a mixer weight) is NaN or
        infinite; the files in the folder are then still those of the last good checkpoint."""
        finite = self._finite
        if weights:
            finite = finite & finite_weights(self.mixer)
            if self.ema is not None:
                finite = finite & finite_weights(self.ema)
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
        self.swap_mixer.eval()
        fixed = self.sample_pairs(pairs, torch.Generator().manual_seed(2**31 - 1))
        out = self.swap_batch(**fixed, noise_mode="const", mixer=self.swap_mixer)
        size = min(self.generator.resolution, 128)
        rows = ("source", "target", "swap")
        grid = stack_rows([resize(out[k].float().cpu(), size) for k in rows], labels=rows)
        path = self.out / "samples" / f"step_{self.step:07d}.png"
        path.parent.mkdir(exist_ok=True)
        save_image(grid, path)
        return path

    # --- checkpoints -------------------------------------------------------------------------

    def save(self) -> None:
        """Write the mixer folder, then the training state (the resume point), each atomically;
        never weights that went NaN. Written together (`write_together`): a write that fails (a full
        disk) leaves every file of the previous checkpoint as it was."""
        self.check_finite(weights=True)
        with write_together():
            self._save()
        self.checkpoint_step = self.step

    def _save(self) -> None:
        self.swap_mixer.save_pretrained(
            self.out,
            backend=self.config.generator,
            layout=self.generator.latent_layout,
            space=self.config.space,
            step=self.step,
            components=self.components,
            training=self.config.to_dict(),
        )
        state = {
            "step": self.step,
            "mixer": self.mixer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "calibration": self.calibration,
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        save_training_state(self.out / STATE_NAME, state)

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
            if trainer.ema is not None:
                if "ema" not in state:
                    raise CheckpointError(f"{out / STATE_NAME}: holds no weight average, but ema_decay is set")
                trainer.ema.load_state_dict(state["ema"])
            saved = state.get("calibration")  # measured anew for checkpoints without it
            trainer.calibrate(saved if isinstance(saved, dict) and {"id", "lp"} <= saved.keys() else None)
            # Pairs and noise are functions of the step: no RNG state to restore.
            trainer.step = trainer.checkpoint_step = state["step"]
            if trainer.ranks.is_main:  # a killed run may have logged past its checkpoint, the last line torn
                write_log(out / LOG_NAME, [line for step, line in log if step <= trainer.step])
        except BaseException:
            trainer.lock.release()
            raise
        return trainer


class _NoLock:
    """The run-folder lock of a rank that does not own the folder."""

    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass

    def abandon(self) -> None:
        pass


def _mix_seed(*parts: int) -> int:
    """One 63-bit seed from several integers (the run's seed, a step, a pair index)."""
    seed = 0
    for part in parts:
        seed = (seed * 6_364_136_223_846_793_005 + part + 1_442_695_040_888_963_407) % 2**63
    return seed


def _rows(pairs: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Pairs start..stop-1 of a batch from `sample_pairs` (tensors, cameras and synthesis kwargs)."""
    if isinstance(pairs, dict):
        return {k: _rows(v, start, stop) for k, v in pairs.items()}
    if isinstance(pairs, torch.Tensor):
        return pairs[start:stop]
    if isinstance(pairs, Camera):
        return pairs[list(range(start, stop))]
    return pairs


def _progress_bar(config: TrainConfig, step: int, enabled: bool) -> tqdm:
    """Steps out of `steps`; a time-budgeted run shows seconds out of its budget instead (and the step)."""
    if config.max_minutes is None:
        return tqdm(total=config.steps, initial=step, desc="train mixer", unit="step", disable=not enabled)
    return tqdm(
        total=round(config.max_minutes * 60, 1),
        desc="train mixer",
        unit="s",
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}{postfix}]",
        disable=not enabled,
    )
