"""The Models page: the mixers served, each with its `config.json` summary (backend, latent layout,
steps, recipe) and the metrics `lsw demo` / `lsw eval` wrote; the selected mixer's whole config; and
the button that trains the demo mixer (with a progress bar) when there is none yet. API: `/models`."""

from __future__ import annotations

import gradio as gr

from lsw_core.ui.catalog import summary
from lsw_core.ui.demo_mixer import demo_folder
from lsw_core.ui.engine import Engine
from lsw_core.ui.glue import gradio_report, page_action

COLUMNS = ["mixer", "backend", "layout", "steps", "recipe", "embedder", "metrics"]


def table(engine: Engine) -> list[list]:
    """One row per served mixer, its metrics on one line."""
    rows = []
    for entry in engine.entries:
        row = summary(entry)
        metrics = row["metrics"] or {}
        row["metrics"] = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()) or "—"
        rows.append([row[c] for c in COLUMNS])
    return rows


def skipped_text(engine: Engine) -> str:
    return "\n".join(f"- skipped: {reason}" for reason in engine.skipped)


def mixer_choices(engine: Engine) -> list[tuple[str, str]]:
    return [(entry.label, entry.key) for entry in engine.entries]


def build(engine: Engine, mixer: gr.Dropdown, train_buttons: list[gr.Button]) -> tuple[gr.Dataframe, gr.JSON]:
    """The Models tab; `train_buttons` (this page's and any other) train the demo mixer. Returns the
    table and the config view (refreshed when the mixer changes)."""
    action = page_action(engine)
    models = engine.settings.models
    where = demo_folder(models[0]) if models else None
    rows = gr.Dataframe(table(engine), headers=COLUMNS, interactive=False, label="Mixers", elem_id="models-table",
                        wrap=True)  # fmt: skip
    skipped = gr.Markdown(skipped_text(engine), elem_id="models-skipped")
    config = gr.JSON(label="config.json of the selected mixer", elem_id="models-config")
    if where is not None:
        gr.Markdown(
            f"**The demo world.** `lsw demo`'s mixer, trained on the synthetic face world on this machine's CPU "
            f"({engine.settings.demo_steps} steps; the demo takes 5–25 min), written to `{where}`."
        )
        trained = (where / "config.json").is_file()
        train_buttons.append(gr.Button("Train the demo mixer", elem_id="models-train", visible=not trained))
    status = gr.Textbox(label="Training", interactive=False, elem_id="models-train-status")

    @action
    def train_demo(progress: gr.Progress = gr.Progress()):
        """Train the demo mixer (the demo's CPU recipe on the synthetic world), then serve it."""
        entry = engine.train_demo(gradio_report(progress))
        choices = mixer_choices(engine)
        return (gr.Dropdown(choices=choices, value=entry.key), table(engine), skipped_text(engine),
                f"trained: {entry.folder}")  # fmt: skip

    for i, button in enumerate(train_buttons):
        button.click(train_demo, None, [mixer, rows, skipped, status], api_name="train_demo" if i == 0 else None,
                     api_visibility="public" if i == 0 else "private", concurrency_id="train",
                     concurrency_limit=1)  # fmt: skip

    @action
    def models():
        """The mixers served, with their config summaries and metrics (None where none were written)."""
        return [summary(entry) for entry in engine.entries]

    gr.Button("List the mixers", visible=False).click(models, None, [gr.JSON(visible=False)], api_name="models")
    return rows, config
