"""`lsw ui`: the web page and HTTP API for swaps (Gradio, `pip install 'lsw-core[ui]'`)."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import sys

import click

from lsw_core.cli.options import device_option, parse_options
from lsw_core.errors import LswError
from lsw_core.ui.engine import Engine
from lsw_core.ui.settings import MAX_VIDEO_FRAMES, UiSettings, parse_auth


def _gradio_installed() -> None:
    """One error line, before anything loads, when the `ui` extra is missing (Gradio is not imported
    yet: it reads where its temporary files go when imported)."""
    if importlib.util.find_spec("gradio") is None:
        raise LswError("lsw ui needs Gradio: pip install 'lsw-core[ui]'")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--mixer", "mixers", multiple=True, type=click.Path(file_okay=False),
              help="A trained mixer folder to serve (repeatable).")  # fmt: skip
@click.option("--models", multiple=True, type=click.Path(file_okay=False),
              help="Folder searched for mixers: DIR/mixer (an `lsw demo --out DIR` run) and mixer folders in it; the "
                   "demo mixer is trained into the first [default: demo_out].")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (this computer only by default; 0.0.0.0: every network it is on).")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="Port to listen on.")
@click.option("--auth", metavar="USER:PASS", help="Ask for this user name and password.")
@device_option
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Also keep every result in this folder [default: results only stay until the session ends].",
)
@click.option(
    "--inverter-option",
    "inverter_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="PTI option on top of the page's schedule, repeatable (e.g. perceptual_checkpoint=FILE).",
)
@click.option(
    "--max-video-frames",
    type=click.IntRange(min=1),
    default=MAX_VIDEO_FRAMES,
    show_default=True,
    help="Refuse clips with more frames than this in the chosen range.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Requests run at once (each loaded model still swaps one at a time).",
)
@click.option(
    "--demo-steps",
    type=click.IntRange(min=1),
    default=None,
    help="Training steps of the demo mixer the page trains [default: the demo's].",
)
def ui(mixers, models, host, port, auth, device, out, inverter_pairs, max_video_frames, concurrency, demo_steps):
    """Serve a web page and an HTTP API for swaps.

    Photo (two photos or seeds, the target's faces to pick, strength, schedule, paste-back; result,
    aligned swap, strip, downloads, PSNR), Video (trim, face on the first frame, progress), Multiview
    (camera-aware mixers), Layers and edits, and Models. Each action is a named endpoint
    (/swap_photo, /swap_video, /multiview, /detect_faces, ...) for `gradio_client`.

    With no --mixer, a mixer trained by `lsw demo` in the --models folders is served; with none
    there, the page offers to train it. Uploads and results live in a temporary folder, removed
    when a session ends (and --out keeps a copy of each result).

    \b
    Examples:
      lsw ui                                  # after `lsw demo`: http://127.0.0.1:7860
      lsw ui --mixer runs/ffhq --inverter-option perceptual_checkpoint=lpips_vgg.pth
      lsw ui --host 0.0.0.0 --auth me:secret --out results/
    """
    _gradio_installed()
    credentials = parse_auth(auth)
    settings = {"mixers": mixers, "device": device, "out": out, "inverter_options": parse_options(inverter_pairs),
                "concurrency": concurrency, "max_video_frames": max_video_frames}  # fmt: skip
    if models:
        settings["models"] = models
    if demo_steps is not None:
        settings["demo_steps"] = demo_steps
    engine = Engine(UiSettings(**settings))
    try:
        os.environ["GRADIO_TEMP_DIR"] = str(engine.root)  # before Gradio is imported: some of it reads this then
        from lsw_core.ui.app import launch

        if not _loopback(host):
            click.echo(f"warning: listening on {host}: anyone who can reach this computer can use the page"
                       f"{'' if credentials else ' (set --auth USER:PASS)'}", err=True)  # fmt: skip
        if not engine.entries:
            click.echo("no mixer found: the page offers to train the demo mixer", err=True)
        launch(engine, host=host, port=port, auth=credentials)
    except KeyboardInterrupt:
        sys.exit(0)
    finally:
        engine.close()
