"""The Gradio page of `lsw ui` and its HTTP API: a mixer chooser and five pages (Photo, Video,
Multiview, Layers and edits, Models), every action a queued named endpoint callable with
`gradio_client`. Uploads and results live in the engine's temporary folder (Gradio's upload folder is
pointed there) and a session's files go when the session ends."""

from __future__ import annotations

import os
from typing import Any

import gradio as gr

from lsw_core.errors import LswError
from lsw_core.ui import page_models, page_photo, page_video, page_views
from lsw_core.ui.engine import Engine
from lsw_core.ui.glue import page_action, session_of
from lsw_core.ui.loaded import GANSPACE_COMPONENTS
from lsw_core.ui.views import edit_directions, layer_groups

TITLE = "lsw-core: LatentSwap face swapping"
INTRO = (
    "Drop a source and a target photo (or give seeds of the generator), move the strength slider, swap, "
    "download. Every button is also an HTTP endpoint: see *Use via API* at the bottom of the page."
)


def build_app(engine: Engine) -> gr.Blocks:
    """The page for `engine`; Gradio keeps its uploads in the engine's temporary folder."""
    os.environ["GRADIO_TEMP_DIR"] = str(engine.root)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    choices = page_models.mixer_choices(engine)
    with gr.Blocks(title="lsw ui", analytics_enabled=False) as blocks:
        gr.Markdown(f"## {TITLE}\n{INTRO}")
        with gr.Row():
            mixer = gr.Dropdown(choices, value=choices[0][1] if choices else None, label="Mixer", scale=3,
                                elem_id="mixer")  # fmt: skip
            about = gr.Markdown(elem_id="mixer-about")
        with gr.Row(visible=not choices) as start:
            gr.Markdown(
                "**No mixer yet.** Train the demo mixer (the synthetic face world, on this computer's CPU) to see a "
                "swap without any checkpoint, or restart with `lsw ui --mixer DIR`."
            )
            train_buttons = [gr.Button("Train the demo mixer", variant="primary", elem_id="start-train")]
        with gr.Tabs():
            with gr.Tab("Photo", id="photo"):
                page_photo.build(engine, mixer)
            with gr.Tab("Video", id="video"):
                page_video.build(engine, mixer)
            with gr.Tab("Multiview", id="multiview"):
                yaw, pitch = page_views.build_multiview(engine, mixer)
            with gr.Tab("Layers and edits", id="layers"):
                groups, edit_groups, direction = page_views.build_layers(engine, mixer)
            with gr.Tab("Models", id="models"):
                _, config = page_models.build(engine, mixer, train_buttons)

        @page_action(engine)
        def describe(mixer: str | None, request: gr.Request = None) -> tuple[Any, ...]:
            """Load the chosen mixer (once per process) and fit the pages to it."""
            if not mixer:
                return ("", gr.Row(visible=True), gr.CheckboxGroup(choices=[]), gr.CheckboxGroup(choices=[]),
                        gr.Dropdown(choices=[]), gr.Slider(), gr.Slider(), None)  # fmt: skip
            loaded = engine.loaded(mixer)
            G = loaded.swapper.generator
            found = layer_groups(loaded)
            directions = edit_directions(loaded, GANSPACE_COMPONENTS)
            camera = G.camera
            yaw_slider, pitch_slider = gr.Slider(), gr.Slider()
            if camera is not None:
                low, high = camera.polar_range
                yaw_slider = gr.Slider(minimum=camera.azimuth_range[0], maximum=camera.azimuth_range[1], value=0)
                pitch_slider = gr.Slider(minimum=90 - high, maximum=90 - low, value=0)
            views = "camera-aware: see Multiview" if camera is not None else "2D"
            line = f"**{G.backend_name}**, {G.resolution} px, {G.num_ws}×{G.w_dim} W+, {views}"
            return (line, gr.Row(visible=False), gr.CheckboxGroup(choices=found, value=[]),
                    gr.CheckboxGroup(choices=found, value=[]),
                    gr.Dropdown(choices=directions, value=directions[0][1] if directions else None),
                    yaw_slider, pitch_slider, loaded.entry.config)  # fmt: skip

        outputs = [about, start, groups, edit_groups, direction, yaw, pitch, config]
        mixer.change(describe, [mixer], outputs, api_visibility="private", concurrency_id="load")
        blocks.load(describe, [mixer], outputs, api_visibility="private", concurrency_id="load")
        blocks.unload(_session_end(engine))
    return blocks


def _session_end(engine: Engine):
    """Removes a session's files when its page is closed."""

    def end(request: gr.Request) -> None:
        engine.sessions.end(session_of(request))

    return end


def launch(
    engine: Engine, *, host: str = "127.0.0.1", port: int | None = 7860, auth: tuple[str, str] | None = None,
    block: bool = True, quiet: bool = False,
) -> tuple[gr.Blocks, str]:  # fmt: skip
    """Serve the page on `host`:`port` (never a public share link), requests queued (`concurrency` at
    once); with `block`, until interrupted. Returns the app and its local URL."""
    blocks = build_app(engine)
    blocks.queue(default_concurrency_limit=engine.settings.concurrency)
    try:
        _, url, _ = blocks.launch(
            server_name=host, server_port=port, auth=auth, share=False, prevent_thread_lock=not block, quiet=quiet,
            max_file_size=f"{engine.settings.max_upload_mb}mb", show_error=True,
        )  # fmt: skip
    except OSError as exc:
        raise LswError(f"cannot listen on {host}:{port} ({exc})") from None
    return blocks, url
