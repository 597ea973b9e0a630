"""The Video page: a source (photo or seed) onto a clip's tracked face, trimmed (start, end, max
frames), the face chosen on the first frame; progress in frames per second and time left; the result
playable with its audio. API: `/swap_video`, `/clip_faces`."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lsw_core.errors import LswError
from lsw_core.ui import clips, inputs, swaps
from lsw_core.ui.engine import Engine
from lsw_core.ui.glue import (
    INPUT_KINDS,
    gradio_report,
    inputs_kind,
    optional_int,
    optional_number,
    page_action,
    paste_config,
    schedule_input,
    session_of,
    side_inputs,
    strength_input,
)


def build(engine: Engine, mixer: gr.Dropdown) -> None:
    """The Video tab's controls and events (inside a `gr.Tab`)."""
    action = page_action(engine)
    limit = engine.settings.max_video_frames
    with gr.Row():
        with gr.Column():
            source, source_seed = side_inputs("Source", elem="video-source")
        with gr.Column():
            clip = gr.Video(label="Target clip", sources=["upload"], elem_id="video-clip", height=260)
            with gr.Row():
                start = gr.Number(value=0, label="Start (s)", minimum=0, elem_id="video-start")
                end = gr.Number(value=0, label="End (s)", minimum=0, elem_id="video-end", info="0: the clip's end.")
                max_frames = gr.Number(value=0, label="Max frames", precision=0, minimum=0, elem_id="video-max-frames",
                                       info=f"0: every frame (this app swaps at most {limit}).")  # fmt: skip
        with gr.Column():
            faces = gr.Gallery(label="Faces on the first frame (click one to track it)", columns=4, height=220,
                               allow_preview=False, preview=False, interactive=False, object_fit="contain", fit_columns=False,
                               elem_id="video-faces")  # fmt: skip
            target_face = gr.Number(value=0, precision=0, label="Tracked face", minimum=0, elem_id="video-face",
                                    info="0 = the largest face on the first frame.")  # fmt: skip
    with gr.Row():
        strength = strength_input("video")
        schedule = schedule_input("video")
        kind = inputs_kind("video")
    with gr.Row():
        smooth = gr.Slider(1, 31, value=9, step=1, label="Smoothing (frames)", elem_id="video-smooth")
        tune = gr.Slider(0, 16, value=4, step=1, label="Tuning frames", elem_id="video-tune")
    run = gr.Button("Swap the clip", variant="primary", elem_id="video-swap")
    result = gr.Video(label="Swapped clip", interactive=False, elem_id="video-result", height=360)
    info = gr.Textbox(label="What was done", interactive=False, elem_id="video-info")

    def trim(clip_value: Any, start: Any, end: Any, max_frames: Any) -> tuple[inputs.Upload, Any, dict]:
        item = inputs.upload(clip_value)
        if item is None:
            raise LswError("upload a clip to swap onto")
        # 0 (or nothing) for the end or the frame count: the whole clip, as the page's fields say.
        span = {"start": optional_number(start, "start") or 0.0, "end": optional_number(end, "end") or None,
                "max_frames": optional_int(max_frames, "max frames") or None}  # fmt: skip
        return item, inputs.check_clip(item, limit=limit, **span), span

    @action
    def clip_faces(clip: Any, start: float = 0, mixer: str | None = None, request: gr.Request = None):
        """The faces on the clip's first frame (from `start`), as aligned crops, largest first."""
        item, _, span = trim(clip, start, None, None)
        results = engine.results(session_of(request))
        frame = clips.first_frame(item, span["start"], results)
        return swaps.detect_faces(engine.cache, engine.loaded(mixer), inputs.Upload(frame, item.name), results)

    @action
    def swap_video(
        source: Any, clip: Any, source_seed: str = "", start: float = 0, end: float | None = None,
        max_frames: int | None = None, target_face: int = 0, strength: float = 1.0, schedule: str = "fast",
        inputs_are: str = "auto", smooth: int = 9, tune_frames: int = 4, mixer: str | None = None,
        request: gr.Request = None, progress: gr.Progress = gr.Progress(),
    ):  # fmt: skip
        """Swap the source onto the clip's tracked face: the swapped clip (same frames, rate, size and
        audio) and a line saying what was done."""
        src = inputs.side("source", source, source_seed)
        item, info, span = trim(clip, start, end, max_frames)
        options = clips.ClipOptions(
            **span, target_face=optional_int(target_face, "tracked face"), strength=float(strength),
            schedule=schedule, aligned=INPUT_KINDS.get(inputs_are), paste=paste_config({}, False, None),
            smooth=int(smooth), tune_frames=int(tune_frames),
        )  # fmt: skip
        loaded = engine.loaded(mixer)
        results = engine.results(session_of(request))
        with loaded.lock:
            out, summary = clips.swap_clip(engine.cache, loaded, src, item, info, options, results,
                                           gradio_report(progress))  # fmt: skip
        return str(out), summary.line()

    def pick_face(evt: gr.SelectData) -> int:
        return int(evt.index)

    run.click(
        swap_video, [source, clip, source_seed, start, end, max_frames, target_face, strength, schedule, kind, smooth,
                     tune, mixer],
        [result, info], api_name="swap_video", preprocess=False, concurrency_id="swap",
    )  # fmt: skip
    clip.upload(clip_faces, [clip, start, mixer], [faces], api_name="clip_faces", preprocess=False,
                concurrency_id="faces")  # fmt: skip
    faces.select(pick_face, None, [target_face], api_visibility="private")
