"""Module paths from before the packages by job keep working for one release, with a warning that
names the new place, and give the very module (and objects) that took their place."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import lsw_core
from lsw_core._compat import MOVED


@pytest.mark.parametrize("old, new", [(old, new) for old, new in MOVED.items() if new])
def test_an_old_path_gives_the_new_module_with_a_deprecation_warning(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = __import__(old, fromlist=["_"])
    assert module is sys.modules[new]


def test_the_old_checkpoint_functions_still_write_and_read_a_mixer_folder(tmp_path):
    sys.modules.pop("lsw_core.checkpoint", None)
    with pytest.warns(DeprecationWarning, match="save_pretrained"):
        from lsw_core.checkpoint import load_mixer, mixer_config, save_mixer
    mixer = lsw_core.LatentMixer(num_rows=2, w_dim=4)
    save_mixer(tmp_path, mixer, mixer_config(mixer, backend="b", layout=lsw_core.LatentLayout(2, 4), space="w+"))
    loaded, config = load_mixer(tmp_path)
    assert config == lsw_core.mixing.read_mixer_config(tmp_path) and loaded.config == mixer.config


def test_a_script_written_against_the_old_paths_runs_and_is_told_where_they_went(tmp_path):
    script = tmp_path / "old.py"
    script.write_text(
        textwrap.dedent(
            """
            from lsw_core.swapper import Swapper
            from lsw_core.imageio import save_image
            from lsw_core.trainer import MixerTrainer, TrainConfig
            from lsw_core.photo import PhotoSwapper, load_photo
            import lsw_core
            assert Swapper is lsw_core.Swapper and TrainConfig is lsw_core.TrainConfig
            print("ran")
            """
        )
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "ran\n", result.stderr
    assert "lsw_core.swapper is deprecated" in result.stderr and "import from lsw_core.mixing.swapper" in result.stderr
    assert "lsw_core.trainer is deprecated" in result.stderr


def test_import_lsw_core_is_cheap():
    code = "import sys, lsw_core; print(len([m for m in sys.modules if m.split('.')[0] == 'torch']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "0", result.stderr  # the public API loads on first use
