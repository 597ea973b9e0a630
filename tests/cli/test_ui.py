"""`lsw ui` without the `ui` extra: one `error:` line naming the install command, and Gradio is
never imported by `import lsw_core` or `lsw --help` (the app's own tests are in tests/ui/)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from lsw_core.cli import cli


def test_without_gradio_lsw_ui_is_one_error_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` raises ImportError, as when not installed
    result = CliRunner().invoke(cli, ["ui"])
    assert result.exit_code == 2
    assert result.output == "error: lsw ui needs Gradio: pip install 'lsw-core[ui]'\n"


def test_importing_lsw_core_or_asking_for_help_does_not_import_gradio():
    code = (
        "import sys, lsw_core, lsw_core.ui, lsw_core.cli\n"
        "from click.testing import CliRunner\n"
        "out = CliRunner().invoke(lsw_core.cli.cli, ['--help']).output\n"
        "assert 'ui' in out.split('Commands:')[1], out\n"
        "assert '--mixer' in CliRunner().invoke(lsw_core.cli.cli, ['ui', '--help']).output\n"
        "assert 'gradio' not in sys.modules, sorted(m for m in sys.modules if 'gradio' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
