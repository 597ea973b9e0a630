"""Settings classes refuse wrong types, non-finite numbers and out-of-range values by field name,
with an LswError (`SettingError`, also a ValueError), and never coerce."""

import math

import attrs
import numpy as np
import pytest

from lsw_core import CameraSpec, LswError
from lsw_core.errors import SettingError
from lsw_core.inversion import EncoderConfig, ProjectionConfig, TuningConfig
from lsw_core.training.config import TrainConfig


def train(**kw):
    return TrainConfig(generator="g", **kw)


@pytest.mark.parametrize(
    "make, field, value, expected",
    [
        (train, "batch_size", "8", "an integer > 0, got '8' (str)"),
        (train, "batch_size", 8.0, "an integer > 0, got 8.0 (float)"),
        (train, "steps", 1.5, "an integer > 0, got 1.5"),
        (train, "steps", True, "an integer > 0, got True (bool)"),
        (train, "lr", math.nan, "a finite number > 0, got nan"),
        (train, "lr", "fast", "a finite number > 0, got 'fast'"),
        (train, "max_minutes", math.nan, "a finite number > 0, got nan"),
        (train, "truncation_psi", math.nan, "a finite number, got nan"),
        (train, "lambda_lp", math.inf, "a finite number >= 0, got inf"),
        (train, "same_pair_prob", 1.5, "a finite number >= 0 and <= 1"),
        (train, "noise_mode", "bogus", "one of 'const', 'random', 'none'"),
        (train, "betas", (0.9, 1.0), "a finite number >= 0 and < 1, got 1.0"),
        (train, "generator_options", "resolution=96", "a dict of options"),
        (train, "seed", -1, "an integer >= 0"),
        (ProjectionConfig, "lr", math.nan, "a finite number > 0"),
        (ProjectionConfig, "steps", 1.5, "an integer >= 0"),
        (ProjectionConfig, "init", "bogus", "one of 'mean', 'w_avg', 'search', 'encoder'"),
        (ProjectionConfig, "early_stop_psnr", math.inf, "a finite number > 0"),
        (ProjectionConfig, "mixed_precision", "yes", "true or false"),
        (ProjectionConfig, "lr_rampdown_length", 2.0, "a finite number >= 0 and <= 1"),
        (TuningConfig, "locality_weight", -1.0, "a finite number >= 0"),
        (TuningConfig, "steps", "350", "an integer >= 0"),
        (EncoderConfig, "resolution", 64.0, "one of 16, 32, 64, 128, 256"),
        (EncoderConfig, "psi_min", math.nan, "a finite number >= 0 and <= 1"),
    ],
)
def test_bad_settings_are_refused_by_field_name(make, field, value, expected):
    with pytest.raises(SettingError) as info:
        make(**{field: value})
    assert str(info.value).startswith(f"{field}: expected {expected}"), str(info.value)
    assert isinstance(info.value, LswError) and isinstance(info.value, ValueError)


def test_good_values_of_other_numeric_types_are_accepted_unchanged():
    config = train(lr=np.float32(1e-3), steps=np.int64(5), betas=[0.5, 0.9], max_minutes=2)
    assert config.steps == 5 and config.betas == (0.5, 0.9) and config.max_minutes == 2
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert attrs.evolve(ProjectionConfig(), early_stop_psnr=None).early_stop_psnr is None


def test_camera_spec_ranges_are_finite_numbers():
    with pytest.raises(SettingError, match="azimuth_range: expected a finite number, got nan"):
        CameraSpec(azimuth_range=(math.nan, 1.0), polar_range=(80.0, 100.0))
    with pytest.raises(SettingError, match="distribution: expected one of 'uniform', 'gaussian'"):
        CameraSpec((-1.0, 1.0), (80.0, 100.0), distribution="normal")


def test_training_settings_read_from_a_file_name_what_is_missing_or_unknown():
    with pytest.raises(SettingError, match="generator: missing"):
        TrainConfig.from_dict({"lr": 1e-3})
    with pytest.raises(SettingError, match="lrr: unknown training setting"):
        TrainConfig.from_dict({"generator": "g", "lrr": 1e-3})
