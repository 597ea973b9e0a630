"""Between Gradio and the engine: every page action runs through `page_action`, which notes the
session's uploads (removed when it ends) and turns any failure into one line in the page (and in the
API client's error) — the library's own message for bad input, with uploads named as they were
uploaded; the server keeps serving. Also the controls shared by several pages."""

from __future__ import annotations

import contextlib
import functools
import math
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import gradio as gr

from lsw_core.errors import LswError
from lsw_core.photo.paste import OCCLUSION_THRESHOLD, PasteConfig
from lsw_core.ui.engine import Engine
from lsw_core.ui.inputs import Upload, upload
from lsw_core.ui.loaded import SCHEDULES
from lsw_core.ui.work import Report

INPUT_KINDS = {"auto": None, "photos": False, "aligned crops": True}
ERROR_SECONDS = 30


def page_action(engine: Engine) -> Callable[[Callable], Callable]:
    """Wrap a Gradio handler: note its uploads as the session's, and raise every failure as one
    `gr.Error` line."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            values = [*args, *kwargs.values()]
            session = next((v.session_hash for v in values if isinstance(v, gr.Request)), None)
            uploads: list[Upload] = []
            try:
                uploads = [u for v in values for u in _uploads(v)]
                for item in uploads:
                    if not item.path.resolve().is_relative_to(engine.root):
                        raise LswError(f"{item.name}: not a file uploaded to this app")
                    engine.sessions.note_upload(session, item.path)
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except LswError as exc:
                raise gr.Error(one_line(str(exc), uploads), duration=ERROR_SECONDS, print_exception=False) from None
            except Exception as exc:  # noqa: BLE001 - a bug must not take the page down either
                traceback.print_exc()
                message = one_line(f"internal error ({type(exc).__name__}: {exc})", uploads)
                raise gr.Error(message, duration=ERROR_SECONDS, print_exception=False) from None

        return run

    return decorate


def _uploads(value: Any) -> list[Upload]:
    if isinstance(value, dict) and ("path" in value or "video" in value):
        item = upload(value)
        return [item] if item is not None else []
    return []


def one_line(message: str, uploads: list[Upload]) -> str:
    """The message on one line, temporary upload paths replaced by the names they were uploaded as."""
    for item in uploads:
        message = message.replace(str(item.path), item.name)
    return " ".join(message.split())


def gradio_report(progress: gr.Progress) -> Report:
    def report(fraction: float | None, text: str) -> None:
        progress(fraction, desc=text)

    return report


def session_of(request: gr.Request | None) -> str | None:
    return None if request is None else request.session_hash


# --- controls shared by pages ----------------------------------------------------------------------


def side_inputs(what: str, *, seed: str = "", elem: str) -> tuple[gr.Image, gr.Textbox]:
    """An upload and a seed field for one side of a swap (the upload wins when both are given)."""
    image = gr.Image(label=f"{what} photo", type="filepath", image_mode=None, sources=["upload", "clipboard"],
                     elem_id=f"{elem}-photo", height=260)  # fmt: skip
    seed_box = gr.Textbox(label=f"…or a {what.lower()} seed", value=seed, placeholder="seed:N",
                          info="For generators without photos (the synthetic world renders faces from seeds).",
                          elem_id=f"{elem}-seed")  # fmt: skip
    return image, seed_box


def schedule_input(elem: str) -> gr.Radio:
    return gr.Radio(list(SCHEDULES), value="fast", label="Inversion schedule", elem_id=f"{elem}-schedule",
                    info="fast: PTI's short schedule; full: the authors' 450 + 350 steps; encoder: fast, from the "
                         "backend's latent encoder.")  # fmt: skip


def strength_input(elem: str) -> gr.Slider:
    return gr.Slider(0, 1, value=1, step=0.05, label="Strength", elem_id=f"{elem}-strength",
                     info="0 gives the target back (its reconstruction), 1 the full swap.")  # fmt: skip


def inputs_kind(elem: str) -> gr.Radio:
    return gr.Radio(list(INPUT_KINDS), value="auto", label="Inputs are", elem_id=f"{elem}-kind",
                    info="auto: a square image of the generator's resolution is an aligned crop, anything else a "
                         "photo.")  # fmt: skip


@attrs.define
class PairRow:
    """The inputs of a page that swaps one pair: both sides, and the settings every such page has."""

    source: gr.Image
    target: gr.Image
    source_seed: gr.Textbox
    target_seed: gr.Textbox
    strength: gr.Slider | None = None
    schedule: gr.Radio | None = None
    kind: gr.Radio | None = None

    def components(self, *own: gr.components.Component) -> list[gr.components.Component]:
        """The handler's inputs in its order: sides, seeds, the page's own settings, the shared ones."""
        sides = [self.source, self.target, self.source_seed, self.target_seed]
        return [*sides, *own, self.strength, self.schedule, self.kind]


@contextlib.contextmanager
def pair_row(elem: str) -> Iterator[PairRow]:
    """A row of source, target and a settings column: what the `with` block adds comes first in the
    column, then strength, schedule and the kind of inputs (element ids `{elem}-source-photo`, ...)."""
    with gr.Row():
        with gr.Column():
            source, source_seed = side_inputs("Source", seed="seed:1", elem=f"{elem}-source")
        with gr.Column():
            target, target_seed = side_inputs("Target", seed="seed:2", elem=f"{elem}-target")
        with gr.Column():
            row = PairRow(source, target, source_seed, target_seed)
            yield row
            row.strength, row.schedule, row.kind = strength_input(elem), schedule_input(elem), inputs_kind(elem)


#: The paste-back settings the command line offers (PasteConfig's fields with an option), by field name.
PASTE_FIELDS = tuple(f for f in attrs.fields(PasteConfig) if "option" in f.metadata)


def paste_inputs(elem: str) -> list[gr.components.Component]:
    """One control per paste-back setting of `PasteConfig` (choices as radios, numbers as numbers, the
    option's help as the hint), then the occlusion mask and its threshold."""
    controls: list[gr.components.Component] = []
    for field in PASTE_FIELDS:
        spec = field.metadata["option"]
        label = spec["flag"].lstrip("-").replace("-", " ").capitalize()
        common = {"label": label, "info": spec["help"], "elem_id": f"{elem}-{field.name}"}
        if "choices" in spec:
            controls.append(gr.Radio(list(spec["choices"]), value=field.default, **common))
        else:
            controls.append(gr.Number(value=field.default, **common))
    controls.append(gr.Checkbox(value=False, label="Occlusion mask", elem_id=f"{elem}-occlusion",
                                info="Keep the target's pixels where its own reconstruction misses it (hands, "
                                     "microphones)."))  # fmt: skip
    controls.append(gr.Number(value=OCCLUSION_THRESHOLD, label="Occlusion threshold", elem_id=f"{elem}-occ-threshold",
                              info="In medians of the target's own reconstruction error."))  # fmt: skip
    return controls


def paste_config(values: dict[str, Any], occlusion: bool, threshold: float | None) -> PasteConfig:
    """The paste-back settings from the page's controls (by field name), checked by `PasteConfig`."""
    settings = {name: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                for name, v in values.items()}  # fmt: skip
    try:
        config = PasteConfig(**settings)
        if occlusion:
            config = attrs.evolve(config, occlusion=float(threshold) if threshold is not None else OCCLUSION_THRESHOLD)
    except LswError as exc:
        name = str(exc).split(":", 1)[0]
        flags = {f.name: f.metadata["option"]["flag"].lstrip("-") for f in PASTE_FIELDS}
        raise LswError(f"paste-back {flags.get(name, name)}{str(exc)[len(name) :]}") from None
    return config


def optional_number(value: Any, what: str) -> float | None:
    """A number from a page field or an API call; empty is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise LswError(f"{what} {value!r}: expected a finite number")
    return number


def optional_int(value: Any, what: str) -> int | None:
    number = optional_number(value, what)
    if number is None:
        return None
    if number != int(number):
        raise LswError(f"{what} {value}: expected a whole number")
    return int(number)
