"""Training against real embedders: augmented identity loss, several embedders, loss-scale
calibration and relative λ, the gated mixer, generator training defaults, μ without a shape model."""

import json

import pytest
import torch

import lsw_core
import lsw_core.training.trainer
from lsw_core.mixing.mixer import GatedLatentMixer, LatentMixer, read_mixer_config
from lsw_core.training.config import TrainConfig
from lsw_core.training.identity_loss import Augmentation, RobustIdentityLoss, augment, paired_views
from lsw_core.training.losses import LatentSwapLoss, contrast_loss, downsample, identity_loss, keep_loss, keep_mask
from lsw_core.training.recipes import recipe
from lsw_core.training.trainer import MixerTrainer
from tests.conftest import TINY_TRAIN, run_lsw, tiny_train_config

NO_AUGMENTATION = Augmentation(scale=0, shift=0, flip=0, blur=0, colour=0)


def tiny(**kw):
    return tiny_train_config(**{"batch_size": 4, "lr": 1e-3, "log_every": 1, **kw})


def test_views_are_differentiable_and_the_null_view_is_the_image():
    x = (torch.rand(3, 3, 32, 32) * 2 - 1).requires_grad_()
    assert torch.allclose(augment(x, NO_AUGMENTATION), x, atol=1e-5)
    view = augment(x, Augmentation(), torch.Generator().manual_seed(0))
    assert view.shape == x.shape and not torch.allclose(view, x, atol=1e-2)
    view.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_source_and_swap_get_the_same_view():
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    view_s, view_swap, _ = paired_views(x, x.clone(), Augmentation())
    assert torch.equal(view_s, view_swap)


def test_no_views_and_one_embedder_is_the_papers_identity_loss(example_plugin):
    E = lsw_core.load_identity_embedder("example-embedder")
    src, swap = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    assert torch.equal(RobustIdentityLoss([(E, 1.0)], samples=0)(src, swap), identity_loss(E(src), E(swap)))
    two = RobustIdentityLoss([(E, 1.0), (E, 0.5)], samples=0)(src, swap)
    assert torch.allclose(two, 1.5 * identity_loss(E(src), E(swap)))


def test_the_paper_setting_keeps_the_papers_loss(example_plugin, tmp_path):
    assert MixerTrainer(tiny(steps=1), tmp_path / "p", progress=False).loss.identity is None
    robust = MixerTrainer(tiny(steps=1, identity_loss="augmented", id_views=2), tmp_path / "a", progress=False)
    assert isinstance(robust.loss.identity, RobustIdentityLoss) and robust.loss.identity.samples == 2
    assert robust.train_step()["id"] > 0


def test_gated_mixer_starts_at_interpolation_and_round_trips(tmp_path):
    mixer = GatedLatentMixer(num_rows=3, w_dim=8, gate_init=0.6)
    s, t = torch.randn(5, 3, 8), torch.randn(5, 3, 8)
    assert torch.allclose(mixer(s, t), t + 0.6 * (s - t), atol=1e-6)
    layout = lsw_core.LatentLayout(3, 8)
    config = mixer.save_pretrained(tmp_path / "g", backend="x", layout=layout, space="w+")
    loaded = LatentMixer.from_pretrained(tmp_path / "g")
    assert type(loaded) is GatedLatentMixer and config["mixer_kind"] == "gated"
    assert torch.equal(loaded(s, t), mixer(s, t))
    # A folder of the paper's mixer has no kind field and loads as before.
    paper = LatentMixer(num_rows=3, w_dim=8)
    paper.save_pretrained(tmp_path / "p", backend="x", layout=layout, space="w+")
    assert "mixer_kind" not in json.loads((tmp_path / "p" / "config.json").read_text())
    assert type(LatentMixer.from_pretrained(tmp_path / "p")) is LatentMixer


def test_calibration_is_logged_and_sets_a_relative_lambda(example_plugin, tmp_path):
    trainer = MixerTrainer(tiny(steps=1, lambda_lp=0.5, lambda_relative=True), tmp_path, progress=False)
    scales = trainer.calibration
    assert scales["id"] > 0 and scales["lp"] > 0
    assert trainer.loss.lambda_lp == pytest.approx(0.5 * scales["id"] / scales["lp"])
    trainer.train()
    first = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[0])
    assert first == {"step": 0, "calibration": scales}
    # The same run measures the same scales (they come from a fixed seed).
    again = MixerTrainer(tiny(steps=1, lambda_lp=0.5, lambda_relative=True), tmp_path / "b", progress=False)
    assert again.calibration == scales


def test_a_resumed_run_weighs_its_terms_with_the_scales_it_started_with(example_plugin, tmp_path, monkeypatch):
    first = MixerTrainer(tiny(steps=1, lambda_lp=0.5, lambda_relative=True), tmp_path, progress=False)
    first.train()

    def measure_again(*args):
        raise AssertionError("a resumed run measured its loss scales again")

    monkeypatch.setattr(lsw_core.training.trainer, "measure_scales", measure_again)
    resumed = MixerTrainer.resume(tmp_path, steps=2, progress=False)
    assert resumed.calibration == first.calibration
    assert resumed.loss.lambda_lp == first.loss.lambda_lp
    resumed.train()


def test_generator_training_defaults_are_used_unless_told(example_plugin, tmp_path):
    G = lsw_core.load_generator("example-tiny")
    G.training_defaults = lsw_core.TrainingDefaults(
        truncation_psi=0.7, truncation_cutoff=2, embedder="example-embedder"
    )
    config = TrainConfig(generator="example-tiny", mu_shape=0.0, batch_size=2, steps=1)
    trainer = MixerTrainer(config, tmp_path / "d", generator=G, progress=False)
    assert (trainer.config.truncation_psi, trainer.config.truncation_cutoff) == (0.7, 2)
    assert trainer.components["embedder"] == "example-embedder"
    told = TrainConfig(
        generator="example-tiny", mu_shape=0.0, batch_size=2, steps=1, truncation_psi=1.0, truncation_cutoff=None
    )
    trainer = MixerTrainer(told, tmp_path / "t", generator=G, progress=False)
    assert (trainer.config.truncation_psi, trainer.config.truncation_cutoff) == (1.0, None)
    trainer.train()
    training = read_mixer_config(tmp_path / "t")["training"]
    assert (training["truncation_psi"], training["truncation_cutoff"]) == (1.0, None)


def test_cli_mu_without_shape_model_is_one_error_line(example_plugin, tmp_path):
    args = ["train", "--generator", "example-tiny", "--embedder", "example-embedder", "--steps", "1"]
    result = run_lsw(*args, "--out", str(tmp_path / "x"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: μ = 0.1 weighs L_shape, but generator 'example-tiny' names no shape model: "
        "pass --shape-model NAME, or --mu 0 to train without L_shape"
    ]
    assert not (tmp_path / "x" / "config.json").exists()


def test_cli_robust_options_and_the_scales_on_the_console(example_plugin, tmp_path):
    out = tmp_path / "m"
    result = run_lsw(
        "train", *TINY_TRAIN, "--batch-size", "2", "--steps", "2", "--identity-loss", "augmented", "--id-views", "1",
        "--extra-embedder", "example-embedder=0.5", "--lambda", "1", "--lambda-relative",
        "--mixer-kind", "gated", "--gate-init", "0.4", "--psi", "1", "--cutoff", "all", "--out", str(out),
        "--calibration-batches", "3", "--keep-weight", "0.5", "--keep-centre", "0.25", "--keep-power", "2",
        "--contrast-weight", "2", "--contrast-margin", "0.3", "--ema-decay", "0.99",
    )  # fmt: skip
    assert "loss scales: L_id(target)" in result.stderr and "L_keep(source)" in result.stderr
    config = json.loads((out / "config.json").read_text())
    training = config["training"]
    assert config["mixer_kind"] == "gated" and config["gate_init"] == 0.4
    assert (training["contrast_weight"], training["contrast_margin"], training["ema_decay"]) == (2, 0.3, 0.99)
    assert training["identity_loss"] == "augmented" and training["extra_embedders"] == {"example-embedder": 0.5}
    assert training["lambda_relative"] is True and training["truncation_cutoff"] is None
    assert (training["calibration_batches"], training["keep_weight"], training["keep_centre"]) == (3, 0.5, 0.25)
    assert training["keep_power"] == 2
    bad = run_lsw("train", "--generator", "example-tiny", "--cutoff", "x", "--out", str(tmp_path / "y"), check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --cutoff: expected")


def test_cli_recipe_sets_what_is_not_given_and_cannot_change_on_resume(example_plugin, tmp_path):
    out = tmp_path / "m"
    args = ("--steps", "1", "--calibration-batches", "1", "-q", "--out", str(out))
    run_lsw("train", *TINY_TRAIN, "--recipe", "real-embedder", "--keep-weight", "0.5", "--batch-size", "2", *args)
    config = json.loads((out / "config.json").read_text())
    training = config["training"]
    expected = {**recipe("real-embedder"), "keep_weight": 0.5, "batch_size": 2}
    assert {name: training[name] for name in expected} == expected
    assert config["mixer_kind"] == "gated" and training["lambda_relative"] is True
    paper = tmp_path / "p"
    run_lsw("train", *TINY_TRAIN, "--recipe", "paper", "--batch-size", "2", *args[:-1], str(paper))
    defaults = TrainConfig(generator="example-tiny").to_dict()
    training = json.loads((paper / "config.json").read_text())["training"]
    assert all(training[name] == defaults[name] for name in recipe("real-embedder") if name != "batch_size")
    bad = run_lsw("train", "--resume", str(out), "--recipe", "paper", "--steps", "2", check=False)
    assert bad.returncode == 2 and "--recipe" in bad.stderr.strip().splitlines()[-1]


def test_eval_with_an_embedder_alone_and_empty_groups(example_plugin, tmp_path):
    mixer = tmp_path / "m"
    run_lsw("train", *TINY_TRAIN, "--batch-size", "2", "--steps", "1", "-q", "--out", str(mixer))
    result = json.loads(run_lsw("eval", "--mixer", str(mixer), "--embedder", "example-embedder", "--pairs", "8").stdout)
    assert result["method"] == "estimated" and 0 <= result["closer_to_source"] <= 1
    assert "pose_error_deg" not in result and result["baselines"]["return_source"]["closer_to_source"] == 1
    # example-tiny's 6 rows drive 4, 8 and 16 px: fine1 and fine2 have no rows.
    for command in (["eval", "--mixer", str(mixer), "--embedder", "example-embedder"],
                    ["swap", "seed:1", "seed:2", "--mixer", str(mixer), "-o", str(tmp_path / "s.png")]):  # fmt: skip
        bad = run_lsw(*command, "--groups", "middle,fine1", check=False)
        assert bad.returncode == 2
        assert bad.stderr.strip().splitlines() == [
            "error: layer group(s) ['fine1'] have no rows on this generator; it has ['coarse', 'middle']"
        ]
    missing = run_lsw("eval", "--mixer", str(mixer), check=False)
    assert missing.returncode == 2 and "pass --judge NAME, or --embedder" in missing.stderr


def test_keep_loss_is_the_pixel_distance_and_spares_the_centre():
    target = torch.zeros(2, 3, 16, 16)
    swap = torch.ones(2, 3, 16, 16)  # 1 in [-1, 1] is 1/2 in [0, 1]
    assert keep_loss(target, swap).item() == pytest.approx(0.5)
    mask = keep_mask(16, 16, 0.0)
    assert mask[8, 8] < 0.05 and mask[0, 0] > 0.9 and mask.max() <= 1
    centre_only = torch.zeros(2, 3, 16, 16)
    centre_only[..., 6:10, 6:10] = 1
    assert keep_loss(target, centre_only, 0.0) < 0.2 * keep_loss(target, centre_only)


def test_keep_power_two_charges_each_pair_its_squared_distance():
    target = torch.zeros(2, 3, 8, 8)
    swap = torch.ones(2, 3, 8, 8) * torch.tensor([0.2, 0.6]).view(2, 1, 1, 1)  # distances 0.1 and 0.3
    assert keep_loss(target, swap).item() == pytest.approx(0.2)
    assert keep_loss(target, swap, power=2).item() == pytest.approx((0.1**2 + 0.3**2) / 2)
    # the pull on a pair grows with its distance: the farther swap gets three times the gradient
    swap.requires_grad_()
    keep_loss(target, swap, power=2).backward()
    assert swap.grad[1].abs().sum().item() == pytest.approx(3 * swap.grad[0].abs().sum().item())


def test_the_keep_term_trains_the_swap_towards_the_target(example_plugin, tmp_path):
    """Same seed, same pairs: with κ > 0 the trained swap is nearer the target in pixels, and κ is
    read relative to the measured scales like λ."""
    runs = {}
    for kappa in (0.0, 10.0):
        config = tiny(steps=30, lambda_lp=0.0, keep_weight=kappa, lambda_relative=True, batch_size=8)
        runs[kappa] = trainer = MixerTrainer(config, tmp_path / str(kappa), progress=False)
        trainer.train()
    keep = runs[10.0]
    assert keep.loss.keep_weight == pytest.approx(10 * keep.calibration["id"] / keep.calibration["keep"])
    assert keep.calibration["keep_effective"] == keep.loss.keep_weight and "keep" not in runs[0.0].calibration
    with torch.no_grad():
        pairs = keep.sample_pairs(16, torch.Generator().manual_seed(7))
        outs = {kappa: trainer.swap_batch(**pairs, noise_mode="const") for kappa, trainer in runs.items()}
    distance = {kappa: float(keep_loss(out["target"], out["swap"])) for kappa, out in outs.items()}
    assert distance[10.0] < 0.5 * distance[0.0], distance


def _unit(*rows):
    return torch.nn.functional.normalize(torch.tensor(rows, dtype=torch.float32), dim=1)


def test_contrast_is_zero_once_the_swap_is_nearer_the_source_by_the_margin():
    s, t = _unit([1.0, 0.0], [1.0, 0.0]), _unit([0.0, 1.0], [0.0, 1.0])  # d(s, t) = 1 for both pairs
    at_source, at_target = s.clone(), t.clone()
    assert contrast_loss(s, t, at_source, 0.25).item() == 0
    assert contrast_loss(s, t, at_target, 0.25).item() == pytest.approx(1.25)
    # halfway: d(swap, s) = d(swap, t); the hinge asks for the margin, 0.25 · d(s, t)
    halfway = _unit([1.0, 1.0], [1.0, 1.0])
    assert contrast_loss(s, t, halfway, 0.25).item() == pytest.approx(0.25, abs=1e-6)
    # a swapped pair gets no gradient, an unswapped one does
    swap = torch.stack([at_source[0], at_target[1]]).requires_grad_()
    contrast_loss(s, t, swap, 0.25).backward()
    assert swap.grad[0].abs().sum() == 0 and swap.grad[1].abs().sum() > 0


def test_the_contrast_term_is_weighed_into_the_loss_in_the_views_of_l_id(example_plugin):
    E = lsw_core.load_identity_embedder("example-embedder")
    src, tgt, swap = (torch.rand(4, 3, 16, 16) * 2 - 1 for _ in range(3))
    latents = dict(target_latent=torch.zeros(4, 2), swap_latent=torch.zeros(4, 2))
    plain = LatentSwapLoss(E, lambda_lp=0.0, contrast_weight=2.0, contrast_margin=0.5)
    total, terms = plain(source_image=src, target_image=tgt, swap_image=swap, **latents)
    expected = contrast_loss(E(src), E(tgt), E(swap), 0.5)
    assert torch.allclose(terms["contrast"], expected) and torch.allclose(total, terms["id"] + 2 * expected)
    # with no views, the robust loss measures the same contrast as the paper's path
    robust = RobustIdentityLoss([(E, 1.0)], samples=0)
    assert torch.allclose(robust.terms(src, swap, tgt, 0.5)[1], expected)
    assert "contrast" not in LatentSwapLoss(E)(source_image=src, target_image=tgt, swap_image=swap, **latents)[1]
    # in a random view, source, swap and target get the same view
    view_s, view_swap, view_t = paired_views(src, src.clone(), Augmentation(), src.clone())
    assert torch.equal(view_s, view_swap) and torch.equal(view_s, view_t)


def test_identity_terms_read_the_images_downsampled_to_id_resolution(example_plugin, tmp_path):
    E = lsw_core.load_identity_embedder("example-embedder")
    src, tgt, swap = (torch.rand(4, 3, 64, 48) * 2 - 1 for _ in range(3))
    assert downsample(src, 16).shape == (4, 3, 16, 12) and downsample(src, 64) is src and downsample(src, None) is src
    assert torch.allclose(downsample(torch.full((1, 3, 64, 64), 0.3), 16), torch.full((1, 3, 16, 16), 0.3))
    latents = dict(target_latent=torch.zeros(4, 2), swap_latent=torch.zeros(4, 2))
    small = {k: downsample(v, 16) for k, v in dict(source_image=src, target_image=tgt, swap_image=swap).items()}
    for identity in (None, RobustIdentityLoss([(E, 1.0)], samples=0)):
        loss = dict(lambda_lp=0.0, contrast_weight=1.0, identity=identity)
        _, reduced = LatentSwapLoss(E, id_resolution=16, **loss)(
            source_image=src, target_image=tgt, swap_image=swap, **latents
        )
        _, expected = LatentSwapLoss(E, **loss)(**small, **latents)
        _, full = LatentSwapLoss(E, **loss)(source_image=src, target_image=tgt, swap_image=swap, **latents)
        assert torch.allclose(reduced["id"], expected["id"]) and torch.allclose(
            reduced["contrast"], expected["contrast"]
        )
        assert not torch.allclose(reduced["id"], full["id"])
    trainer = MixerTrainer(tiny(steps=1, id_resolution=8), tmp_path / "r", progress=False)
    assert trainer.loss.id_resolution == 8 and trainer.train_step()["id"] > 0


def test_the_1024_recipe_is_the_real_embedder_recipe_read_at_256_px(example_plugin, tmp_path):
    settings, base = recipe("real-embedder-1024"), recipe("real-embedder")
    changed = {"id_resolution": 256, "embedder_options": {"crop": "ffhq"}, "batch_size": 4, "lr": 1e-4}
    assert settings == {**base, **changed}
    settings["embedder_options"]["crop"] = "full"  # a copy: the recipe itself is unchanged
    assert recipe("real-embedder-1024")["embedder_options"] == {"crop": "ffhq"}
    # the example embedder takes no crop option: trained with its own options, the recipe runs
    config = tiny(**{**recipe("real-embedder-1024"), "embedder_options": {}, "steps": 1, "calibration_batches": 1})
    trainer = MixerTrainer(config, tmp_path / "r", progress=False)
    assert trainer.loss.id_resolution == 256 and isinstance(trainer.mixer, GatedLatentMixer)
    assert torch.isfinite(trainer.train_step()["total"])


def test_the_landmarks_recipe_adds_a_relative_landmark_shape_term_to_the_real_embedder_recipe(tmp_path):
    settings = recipe("real-embedder-landmarks")
    changed = {"shape_model": "dlib-landmarks", "shape_model_options": {"expression_weight": 6.7}, "mu_shape": 1.0,
               "mu_relative": True, "keep_weight": 1.0}  # fmt: skip
    assert settings == {**recipe("real-embedder"), **changed}
    # the landmark net is taught per generator: without its file the recipe is one error line
    done = run_lsw("train", "-g", "synthface", "--recipe", "real-embedder-landmarks", "--steps", "1",
                   "--out", str(tmp_path / "run"), check=False)  # fmt: skip
    assert done.returncode == 2 and "lsw landmarks train" in done.stderr and done.stderr.count("\n") == 1

