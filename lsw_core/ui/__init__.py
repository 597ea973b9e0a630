"""`lsw ui`: a web page and an HTTP API for swaps, over the library (`PhotoSwapper`, `VideoSwapper`,
`Swapper`, the demo's training), with Gradio (`pip install 'lsw-core[ui]'`).

`engine` is the app without its page (settings, the mixers served, models loaded once per process,
session folders); the actions are `swaps` (photos), `clips` (videos), `views` (multiview, layer groups,
edits) and `demo_mixer`; `app` and the `page_*` modules are the Gradio page, the only modules that
import Gradio (on first use of `build_app` or `launch`)."""

from lsw_core._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "lsw_core.ui.app": ["build_app", "launch"],
        "lsw_core.ui.engine": ["Engine"],
        "lsw_core.ui.settings": ["UiSettings"],
    },
)
