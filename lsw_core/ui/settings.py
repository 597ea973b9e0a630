"""What `lsw ui` serves and how: the mixer folders, where results go, and the app's own limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from lsw_core.errors import LswError
from lsw_core.training.recipes import DEMO_STEPS
from lsw_core.validators import integer, options

#: A clip of more frames than this (in the chosen start/end/max-frames range) is refused before any work.
MAX_VIDEO_FRAMES = 900
#: Uploads larger than this are refused by the server as they arrive.
MAX_UPLOAD_MB = 500


def _paths(values: Any) -> tuple[Path, ...]:
    return tuple(Path(v) for v in values)


@attrs.frozen(kw_only=True)
class UiSettings:
    """`mixers`: mixer folders to serve; `models`: folders searched for mixers (a demo run's `DIR/mixer`,
    or mixer folders in them), the first also where the demo mixer is trained; `device`: where the
    networks run; `out`: a folder every result is also copied to (None: results stay in the app's
    temporary folder, to download); `inverter_options`: options of the PTI inverter (as
    `--inverter-option`), on top of the schedule chosen in the page; `max_video_frames`: the most frames
    a clip swap takes on; `max_upload_mb`: the largest upload; `concurrency`: requests run at once
    (each loaded model still swaps one request at a time); `demo_steps` and `demo_settings`: the demo
    mixer's training (the demo's CPU recipe, with these changes)."""

    mixers: tuple[Path, ...] = attrs.field(default=(), converter=_paths)
    models: tuple[Path, ...] = attrs.field(default=(Path("demo_out"),), converter=_paths)
    device: str = "auto"
    out: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))
    inverter_options: dict[str, Any] = attrs.field(factory=dict, validator=options())
    max_video_frames: int = attrs.field(default=MAX_VIDEO_FRAMES, validator=integer(ge=1))
    max_upload_mb: int = attrs.field(default=MAX_UPLOAD_MB, validator=integer(ge=1))
    concurrency: int = attrs.field(default=1, validator=integer(ge=1))
    demo_steps: int = attrs.field(default=DEMO_STEPS, validator=integer(ge=1))
    demo_settings: dict[str, Any] = attrs.field(factory=dict, validator=options())


def parse_auth(text: str | None) -> tuple[str, str] | None:
    """`USER:PASS` → (user, password); None stays None."""
    if text is None:
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise LswError("--auth: expected USER:PASS, both non-empty")
    return user, password
