"""`lsw --help` starts without torch: every built-in plugin registers its components and commands
lazily (a plugin whose package imports torch at registration would cost every command seconds)."""

import os
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_lsw_help_with_every_built_in_plugin_loads_no_torch():
    built_in = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["lsw_core"]
    code = (
        "import sys\n"
        "from lsw_core.cli import main\n"
        "sys.argv = ['lsw', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('torch modules:', sum(m.split('.')[0] == 'torch' for m in sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "LSW_PLUGINS": ",".join(built_in)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "landmarks" in done.stdout and "ui" in done.stdout  # plugin and core commands are listed
    assert "torch modules: 0" in done.stderr, done.stderr
