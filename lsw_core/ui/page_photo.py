"""The Photo page: source and target (photos or seeds), the target's faces to click, a reference face,
strength, schedule and paste-back; the result, the aligned swap, the source | target | swap strip,
downloads and the inversion's PSNR. API: `/swap_photo`, `/detect_faces`."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lsw_core.errors import LswError
from lsw_core.ui import inputs, swaps
from lsw_core.ui.engine import Engine
from lsw_core.ui.glue import (
    INPUT_KINDS,
    gradio_report,
    inputs_kind,
    optional_number,
    page_action,
    paste_config,
    paste_inputs,
    schedule_input,
    session_of,
    side_inputs,
    strength_input,
)

LARGEST, EVERY = "largest", "all"


def face_choice(value: Any) -> int | str | None:
    """The target-face control's value: "largest" → None, "all", or a face number."""
    text = str(value if value is not None else LARGEST).strip()
    if text in ("", LARGEST):
        return None
    if text == EVERY:
        return EVERY
    if not text.isdigit():
        raise LswError(f"target face {text!r}: expected 'largest', 'all' or a face number (0 = the largest)")
    return int(text)


def face_choices(count: int) -> list[str]:
    return [LARGEST, EVERY, *(str(i) for i in range(count))]


def build(engine: Engine, mixer: gr.Dropdown) -> None:
    """The Photo tab's controls and events (inside a `gr.Tab`)."""
    action = page_action(engine)
    with gr.Row():
        with gr.Column():
            source, source_seed = side_inputs("Source", elem="photo-source")
        with gr.Column():
            target, target_seed = side_inputs("Target", elem="photo-target")
        with gr.Column():
            faces = gr.Gallery(label="Faces in the target (click one to swap it)", columns=4, height=220,
                               allow_preview=False, preview=False, interactive=False, object_fit="contain", fit_columns=False,
                               elem_id="photo-faces")  # fmt: skip
            target_face = gr.Dropdown(face_choices(0), value=LARGEST, label="Target face", allow_custom_value=True,
                                      elem_id="photo-target-face",
                                      info="largest, all (every face, one after another) or a face number.")  # fmt: skip
            with gr.Accordion("Reference face", open=False):
                reference = gr.Image(label="Swap only the target faces like this face", type="filepath",
                                     image_mode=None, elem_id="photo-reference", height=160)  # fmt: skip
                threshold = gr.Textbox(
                    value="",
                    label="Reference threshold",
                    elem_id="photo-reference-threshold",
                    info="Swap every face at least this similar (cosine); empty: the most similar face only.",
                )
    with gr.Row():
        strength = strength_input("photo")
        schedule = schedule_input("photo")
        kind = inputs_kind("photo")
    with gr.Accordion("Paste-back", open=False):
        paste = paste_inputs("photo")
    run = gr.Button("Swap", variant="primary", elem_id="photo-swap")
    with gr.Row():
        result = gr.Image(label="Result", type="filepath", interactive=False, elem_id="photo-result", format="png")
        aligned = gr.Image(label="Aligned swap", type="filepath", interactive=False, elem_id="photo-aligned",
                           format="png")  # fmt: skip
    strip = gr.Image(label="Source | target | swap", type="filepath", interactive=False, elem_id="photo-strip",
                     format="png")  # fmt: skip
    info = gr.Textbox(label="Inversion", interactive=False, elem_id="photo-info")
    with gr.Row():
        downloads = [gr.DownloadButton(f"Download {what}", visible=False, elem_id=f"photo-download-{what}")
                     for what in ("result", "aligned", "strip")]  # fmt: skip

    @action
    def detect_faces(photo: Any, mixer: str | None, request: gr.Request = None):
        """The faces of a photo as aligned crops (largest first), with captions."""
        item = inputs.upload(photo)
        if item is None:
            return []
        inputs.check_photo(item)
        loaded = engine.loaded(mixer)
        return swaps.detect_faces(engine.cache, loaded, item, engine.results(session_of(request)))

    @action
    def swap_photo(
        source: Any, target: Any, source_seed: str = "", target_seed: str = "", strength: float = 1.0,
        schedule: str = "fast", target_face: str = LARGEST, reference: Any = None,
        reference_threshold: float | str | None = None, inputs_are: str = "auto", paste: str = "crop",
        feather: float = 0.1, blend: str = "feather", color_match: str = "none", occlusion_mask: bool = False,
        occlusion_threshold: float | None = None, mixer: str | None = None, request: gr.Request = None,
        progress: gr.Progress = gr.Progress(),
    ):  # fmt: skip
        """Swap the source's identity onto the target: the result (the target photo with the swap pasted
        back, or the aligned swap for an aligned-crop or seed target), the aligned swap, the
        source | target | swap strip, and the inversion's PSNR."""
        src = inputs.side("source", source, source_seed)
        tgt = inputs.side("target", target, target_seed)
        options = swaps.PhotoOptions(
            strength=float(strength), schedule=schedule, aligned=INPUT_KINDS.get(inputs_are),
            target_face=face_choice(target_face), reference=inputs.optional_photo(reference),
            threshold=optional_number(reference_threshold, "reference threshold"),
            paste=paste_config({"kind": paste, "feather": feather, "blend": blend, "color_match": color_match},
                               occlusion_mask, optional_number(occlusion_threshold, "occlusion threshold")),
        )  # fmt: skip
        loaded = engine.loaded(mixer)
        results = engine.results(session_of(request))
        with loaded.lock:
            outcome = swaps.swap_photo(engine.cache, loaded, src, tgt, options, results, gradio_report(progress))
        main = outcome.pasted or outcome.aligned
        return str(main), str(outcome.aligned), str(outcome.strip), outcome.line()

    def offer_downloads(*files: str | None):
        return [gr.DownloadButton(value=f, visible=f is not None) for f in files]

    def pick_face(evt: gr.SelectData) -> str:
        return str(evt.index)

    @action
    def check_upload(photo: Any, request: gr.Request = None) -> None:
        item = inputs.upload(photo)
        if item is not None:
            inputs.check_photo(item)

    swap_inputs = [source, target, source_seed, target_seed, strength, schedule, target_face, reference, threshold,
                   kind, *paste, mixer]  # fmt: skip
    run.click(swap_photo, swap_inputs, [result, aligned, strip, info], api_name="swap_photo", preprocess=False,
              concurrency_id="swap").success(
        offer_downloads, [result, aligned, strip], downloads, api_visibility="private"
    )  # fmt: skip
    target.upload(detect_faces, [target, mixer], [faces], api_name="detect_faces", preprocess=False,
                  concurrency_id="faces").success(
        lambda found: gr.Dropdown(choices=face_choices(len(found or [])), value=LARGEST), [faces], [target_face],
        api_visibility="private", preprocess=False,
    )  # fmt: skip
    target.clear(lambda: ([], gr.Dropdown(choices=face_choices(0), value=LARGEST)), None, [faces, target_face],
                 api_visibility="private")  # fmt: skip
    faces.select(pick_face, None, [target_face], api_visibility="private")
    for photo in (source, reference):
        photo.upload(check_upload, [photo], None, api_visibility="private", preprocess=False)
