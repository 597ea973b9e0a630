"""`lsw ui` as a command: on a fresh install (no mixer anywhere) it serves the page that offers the
demo mixer, listens on 127.0.0.1 only, and on Ctrl-C removes its temporary folder, having written
nothing else; bad options are one `error:` line before anything starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from lsw_core.cli import cli
from tests.conftest import interruptible

from .conftest import free_port

LSW = str(Path(sys.executable).parent / "lsw")


def listening(port: int) -> list[str]:
    """The local addresses listening on `port` (IPv4, from /proc/net/tcp), e.g. ["127.0.0.1"]."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def wait_for_config(url: str, process: subprocess.Popen, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with urllib.request.urlopen(f"{url}/config", timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {seconds} s")


def test_a_fresh_install_serves_the_demo_offer_on_localhost_and_cleans_up(tmp_path):
    work, temp = tmp_path / "work", tmp_path / "temp"
    work.mkdir()
    temp.mkdir()
    port = free_port()
    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen([LSW, "ui", "--port", str(port)], cwd=work, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)  # fmt: skip
    try:
        config = wait_for_config(f"http://127.0.0.1:{port}", process)
        assert listening(port) == ["127.0.0.1"]
        texts = json.dumps(config)
        assert "No mixer yet" in texts and "Train the demo mixer" in texts
        assert [p.name for p in temp.iterdir()][0].startswith("lsw-ui-")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "no mixer found: the page offers to train the demo mixer" in err
    assert list(temp.iterdir()) == [] and list(work.iterdir()) == []  # nothing left, nothing written beside it


def test_bad_options_are_one_error_line_before_anything_starts(tmp_path, mixers):
    runner = CliRunner()
    for args, message in (
        (["--auth", "me"], "error: --auth: expected USER:PASS, both non-empty\n"),
        (["--mixer", str(tmp_path)], f"error: {tmp_path}: not a mixer folder"),
        (
            ["--mixer", str(mixers["2d"]), "--out", str(mixers["2d"] / "config.json")],
            "error: Invalid value for '--out'",
        ),
    ):
        result = runner.invoke(cli, ["ui", *args])
        assert result.exit_code == 2 and result.output.startswith(message) and result.output.count("\n") == 1, args


def test_a_port_in_use_is_one_error_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([LSW, "ui", "--port", str(port), "--models", str(tmp_path)], capture_output=True,
                                text=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})  # fmt: skip
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert lines == [f"error: cannot listen on 127.0.0.1:{port} " + lines[0].split(f"{port} ", 1)[1]], result.stderr
    assert not any(p.name.startswith("lsw-ui-") for p in tmp_path.iterdir())
