"""The Multiview page (camera-aware mixers: the swap from a sweep of cameras, yaw and pitch sliders
re-rendering it, strip and GIF) and the Layers-and-edits page (the swap on chosen layer groups, the
paper's Figure 10 strip, and edit directions). API: `/multiview`, `/render_view`, `/layers`, `/edit`."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lsw_core.errors import LswError
from lsw_core.ui import inputs
from lsw_core.ui import views as swap_views
from lsw_core.ui.engine import Engine
from lsw_core.ui.glue import INPUT_KINDS, gradio_report, page_action, pair_row, session_of


def _sides(source: Any, target: Any, source_seed: str, target_seed: str) -> tuple[inputs.Side, inputs.Side]:
    return inputs.side("source", source, source_seed), inputs.side("target", target, target_seed)


def _pair(engine: Engine, loaded, sides, schedule: str, inputs_are: str, results, progress) -> swap_views.Pair:
    return swap_views.pair(engine.cache, loaded, *sides, schedule=schedule, aligned=INPUT_KINDS.get(inputs_are),
                           results=results, report=gradio_report(progress))  # fmt: skip


def build_multiview(engine: Engine, mixer: gr.Dropdown) -> tuple[gr.Slider, gr.Slider]:
    """The Multiview tab; returns its yaw and pitch sliders (their ranges follow the mixer's camera)."""
    action = page_action(engine)
    state = gr.State(None)
    with pair_row("mv") as row:
        count = gr.Slider(1, 9, value=5, step=1, label="Views", elem_id="mv-views")
    run = gr.Button("Render the views", variant="primary", elem_id="mv-run")
    gallery = gr.Gallery(label="The swap from each camera", columns=9, height=200, interactive=False,
                         object_fit="contain", elem_id="mv-gallery")  # fmt: skip
    strip = gr.Image(label="Source, target and swap across the views", type="filepath", interactive=False,
                     elem_id="mv-strip", format="png")  # fmt: skip
    gif = gr.File(label="GIF of the swap", interactive=False, elem_id="mv-gif")
    with gr.Row():
        yaw = gr.Slider(-30, 30, value=0, step=1, label="Yaw (degrees)", elem_id="mv-yaw")
        pitch = gr.Slider(-15, 15, value=0, step=1, label="Pitch (degrees)", elem_id="mv-pitch")
    view = gr.Image(label="The swap from this camera", type="filepath", interactive=False, elem_id="mv-view",
                    format="png")  # fmt: skip

    @action
    def multiview(
        source: Any, target: Any, source_seed: str = "seed:1", target_seed: str = "seed:2", views: int = 5,
        strength: float = 1.0, schedule: str = "fast", inputs_are: str = "auto", mixer: str | None = None,
        request: gr.Request = None, progress: gr.Progress = gr.Progress(),
    ):  # fmt: skip
        """The swap from `views` cameras across the yaw range: one image per camera, the source | target
        | swap strip across them, and a GIF."""
        if int(views) != views or not 1 <= views <= 32:
            raise LswError(f"views {views}: expected a whole number from 1 to 32")
        sides = _sides(source, target, source_seed, target_seed)
        loaded = engine.loaded(mixer)
        swap_views.check_camera(loaded)
        results = engine.results(session_of(request))
        with loaded.lock:
            pivots = _pair(engine, loaded, sides, schedule, inputs_are, results, progress)
            out = swap_views.multiview(loaded, pivots, views=int(views), strength=float(strength), results=results)
        return [(str(p), caption) for p, caption in out.views], str(out.strip), str(out.gif), out.state

    @action
    def render_view(state: Any, yaw: float = 0, pitch: float = 0, mixer: str | None = None,
                    request: gr.Request = None):  # fmt: skip
        """The last multiview swap from one camera (yaw, pitch in degrees)."""
        if state is None:
            raise LswError("render the views first")
        loaded = engine.loaded(mixer)
        with loaded.lock:
            return str(swap_views.render_view(loaded, state, yaw=float(yaw), pitch=float(pitch),
                                         results=engine.results(session_of(request))))  # fmt: skip

    run.click(multiview, [*row.components(count), mixer], [gallery, strip, gif, state], api_name="multiview",
              preprocess=False, concurrency_id="swap")  # fmt: skip
    view_inputs = [state, yaw, pitch, mixer]
    yaw.release(render_view, view_inputs, [view], api_name="render_view", preprocess=False, concurrency_id="swap",
                trigger_mode="always_last")  # fmt: skip
    pitch.release(render_view, view_inputs, [view], api_visibility="private", preprocess=False,
                  concurrency_id="swap", trigger_mode="always_last")  # fmt: skip
    return yaw, pitch


def build_layers(engine: Engine, mixer: gr.Dropdown) -> tuple[gr.CheckboxGroup, gr.CheckboxGroup, gr.Dropdown]:
    """The Layers-and-edits tab; returns its two layer-group choices and the direction list (their
    choices follow the mixer)."""
    action = page_action(engine)
    state = gr.State(None)
    with pair_row("ly") as row:
        groups = gr.CheckboxGroup([], label="Swap on these layer groups (none checked: all)", elem_id="ly-groups")
    run = gr.Button("Swap by layer group", variant="primary", elem_id="ly-run")
    with gr.Row():
        chosen = gr.Image(label="The swap on the chosen groups", type="filepath", interactive=False,
                          elem_id="ly-swap", format="png")  # fmt: skip
        figure = gr.Image(label="Each layer group alone (the paper's Figure 10)", type="filepath", interactive=False,
                          elem_id="ly-figure", format="png", scale=3)  # fmt: skip
    gr.Markdown("### Edit the swap")
    with gr.Row():
        direction = gr.Dropdown([], label="Direction", elem_id="ly-direction",
                                info="GANSpace components of the generator, and the .npy boundaries in the mixer "
                                     "folder's directions/.")  # fmt: skip
        amount = gr.Slider(-3, 3, value=1.5, step=0.25, label="Amount (steps)", elem_id="ly-amount")
        edit_groups = gr.CheckboxGroup([], label="Edit these layer groups (none: all)", elem_id="ly-edit-groups")
    apply = gr.Button("Apply the edit", elem_id="ly-edit")
    with gr.Row():
        edited = gr.Image(label="Edited swap", type="filepath", interactive=False, elem_id="ly-edited", format="png")
        edits = gr.Image(label="−3 … +3 steps", type="filepath", interactive=False, elem_id="ly-edits", format="png",
                         scale=3)  # fmt: skip

    @action
    def layers(
        source: Any, target: Any, source_seed: str = "seed:1", target_seed: str = "seed:2",
        groups: list[str] | None = None, strength: float = 1.0, schedule: str = "fast", inputs_are: str = "auto",
        mixer: str | None = None, request: gr.Request = None, progress: gr.Progress = gr.Progress(),
    ):  # fmt: skip
        """The swap on the chosen layer groups (none: all), and source, target and the swap on each
        group alone and on all of them."""
        sides = _sides(source, target, source_seed, target_seed)
        loaded = engine.loaded(mixer)
        results = engine.results(session_of(request))
        with loaded.lock:
            pivots = _pair(engine, loaded, sides, schedule, inputs_are, results, progress)
            swap, strip, swapped = swap_views.layers(loaded, pivots, groups=groups or None, strength=float(strength),
                                                results=results)  # fmt: skip
        return str(swap), str(strip), swapped

    @action
    def edit(state: Any, direction: str = "ganspace:0", amount: float = 1.5, groups: list[str] | None = None,
             mixer: str | None = None, request: gr.Request = None):  # fmt: skip
        """The last layer swap moved `amount` steps along `direction` on `groups`, and a strip from −3 to +3."""
        if state is None:
            raise LswError("swap by layer group first, then edit the swap")
        loaded = engine.loaded(mixer)
        with loaded.lock:
            image, strip = swap_views.edit(engine.cache, loaded, state, direction=direction, amount=float(amount),
                                      groups=groups or None, results=engine.results(session_of(request)))  # fmt: skip
        return str(image), str(strip)

    run.click(layers, [*row.components(groups), mixer], [chosen, figure, state], api_name="layers", preprocess=False,
              concurrency_id="swap")  # fmt: skip
    apply.click(edit, [state, direction, amount, edit_groups, mixer], [edited, edits], api_name="edit",
                preprocess=False, concurrency_id="swap")  # fmt: skip
    return groups, edit_groups, direction
