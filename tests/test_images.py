"""Grids say which rows and columns are sources, targets and swaps; the demo's shortfalls and time estimate."""

import torch

from lsw_core.cli.demo import EXPECTED, _train, shortfalls, time_left
from lsw_core.images import make_grid, stack_rows, swap_grid
from lsw_core.training.trainer import MixerTrainer
from tests.conftest import tiny_train_config


def test_labelled_rows_keep_the_images_and_add_a_text_margin():
    rows = [torch.full((4, 3, 32, 32), v) for v in (-0.5, 0.0, 0.5)]
    plain = make_grid(torch.cat(rows), ncols=4)
    labelled = stack_rows(rows, labels=("source", "target", "swap"))
    margin = labelled.shape[2] - plain.shape[2]
    assert labelled.shape[1] == plain.shape[1] and margin > 20
    assert torch.allclose(labelled[:, :, margin:], plain, atol=1 / 127.5)  # the images, moved right
    text = labelled[:, :, :margin]
    assert (text < -0.5).any() and (text > 0.99).float().mean() > 0.8  # dark letters on white
    # each row's label sits beside that row
    for r in range(3):
        band = text[:, 2 + r * 34 : 2 + r * 34 + 32]
        assert (band < -0.5).any()


def test_labelled_swap_grid_names_sources_targets_and_swaps():
    sources, targets = torch.zeros(3, 3, 40, 40), torch.zeros(2, 3, 40, 40)
    plain = swap_grid(sources, targets, torch.zeros(2, 3, 3, 40, 40))
    labelled = swap_grid(sources, targets, torch.zeros(2, 3, 3, 40, 40), labels=True)
    top, left = labelled.shape[1] - plain.shape[1], labelled.shape[2] - plain.shape[2]
    assert top > 8 and left > 20
    assert (labelled[:, :top, left + 44 :] < -0.5).any()  # "source j" above the source columns
    assert (labelled[:, top + 44 :, :left] < -0.5).any()  # "target i" beside the target rows
    assert (labelled[:, top + 2 : top + 42, left + 2 : left + 42] < -0.5).any()  # the corner explains the cells


def test_demo_shortfalls_name_each_metric_outside_the_readme_figures():
    good = {name: bound for name, bound, _ in EXPECTED}
    assert shortfalls(good) == []
    bad = {**good, "id_retrieval": 0.005, "pose_error_deg": 3.0}
    assert [s.split()[0] for s in shortfalls(bad)] == ["id_retrieval", "pose_error_deg"]


def test_demo_time_estimate_averages_the_steps_after_the_first():
    # step times as the trainer records them (checkpoint writes are not in them); the first warms up
    assert time_left([9.0, 1.0, 2.5, 2.5], steps_left=236) == (2.0, 472.0)


def test_demo_trains_in_one_run_and_prints_the_estimate_once(example_plugin, tmp_path, capsys):
    trainer = MixerTrainer(tiny_train_config(batch_size=2, steps=6, checkpoint_every=2), tmp_path, progress=False)
    _train(trainer, quiet=False)
    err = capsys.readouterr().err
    assert err.count("training 6 steps: ") == 1 and " s per step on this machine now, about " in err
    assert trainer.step == 6 and len(trainer.step_seconds) == 6
    _train(MixerTrainer(tiny_train_config(batch_size=2, steps=6), tmp_path / "q", progress=False), quiet=True)
    assert "training 6 steps" not in capsys.readouterr().err
