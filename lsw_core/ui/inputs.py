"""What a request brings, checked before any work with the command line's checks and wording: an
uploaded photo (`probe_photo`: readable, at most `MAX_PHOTO_PIXELS`), a seed of the generator
(`seed:N`), or a clip (`probe_video`, and at most the app's frame limit). Messages name the file as
it was uploaded, not the temporary copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from lsw_core.errors import ImageError, LswError
from lsw_core.images import MAX_PHOTO_PIXELS, probe_photo
from lsw_core.mixing.latents import parse_seeds
from lsw_core.photo.video import expected_frames
from lsw_core.photo.video_io import VideoInfo, probe_video


@attrs.frozen
class Upload:
    """A file the server received: where it lies and the name it was uploaded as."""

    path: Path
    name: str


def upload(value: Any) -> Upload | None:
    """An upload as the page or `gradio_client` sends it (a file record, or a video record holding
    one), or None when nothing was given. A bare path is refused: requests send files, they do not
    name the server's."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        if "video" in value and isinstance(value["video"], dict):  # a video component's record
            value = value["video"]
        path = value.get("path")
        if not path:
            return None
        return Upload(Path(path), str(value.get("orig_name") or Path(path).name))
    raise LswError(f"expected an uploaded file, got {type(value).__name__} (send files with gradio_client.handle_file)")


def renamed(exc: LswError, item: Upload) -> LswError:
    """The error with the temporary path replaced by the uploaded file's name."""
    return type(exc)(str(exc).replace(str(item.path), item.name))


@attrs.frozen
class Side:
    """One side of a swap: an uploaded photo (checked) or a seed of the generator."""

    photo: Upload | None = None
    seed: int | None = None

    @property
    def name(self) -> str:
        return self.photo.name if self.photo is not None else f"seed:{self.seed}"


def side(what: str, photo: Any, seed: str | None) -> Side:
    """The `what` side of a swap from its upload and its seed field (`seed:N`, or just N): the photo
    when one is uploaded, else the seed; checked before any work."""
    item = upload(photo)
    if item is not None:
        check_photo(item)
        return Side(photo=item)
    text = (seed or "").strip()
    if not text:
        raise LswError(f"{what}: upload a photo or give a seed (seed:N)")
    seeds = parse_seeds(text if text.startswith("seed:") else f"seed:{text}")
    if len(seeds) != 1:
        raise LswError(f"{what}: one seed, got {text!r}")
    return Side(seed=seeds[0])


def optional_photo(value: Any) -> Upload | None:
    """An optional uploaded photo (e.g. a reference face), checked."""
    item = upload(value)
    if item is not None:
        check_photo(item)
    return item


def check_photo(item: Upload) -> tuple[int, int]:
    """(width, height) of an uploaded photo from its header: the command line's `probe_photo`
    (readable, not truncated, at most MAX_PHOTO_PIXELS), its message naming the upload."""
    try:
        return probe_photo(item.path)
    except ImageError as exc:
        raise renamed(exc, item) from None


def check_clip(item: Upload, *, start: float, end: float | None, max_frames: int | None, limit: int) -> VideoInfo:
    """A clip's header checked before any work: it decodes (`probe_video`), `end` comes after `start`,
    its frames are photos the command line would take, and the range holds at most `limit` frames."""
    if start < 0:
        raise LswError(f"start {start}: expected 0 seconds or more")
    if end is not None and end <= start:
        raise LswError(f"--end {end}: must come after --start {start}")
    if max_frames is not None and max_frames < 1:
        raise LswError(f"max frames {max_frames}: expected 1 or more")
    try:
        info = probe_video(item.path)
    except ImageError as exc:
        raise renamed(exc, item) from None
    if info.width * info.height > MAX_PHOTO_PIXELS:
        raise ImageError(
            f"{item.name}: refused: {info.width}×{info.height} frames are more than {MAX_PHOTO_PIXELS // 10**6} megapixels"
        )
    frames = expected_frames(info, start, end, max_frames)
    if frames is None:
        if max_frames is None or max_frames > limit:
            raise ImageError(
                f"{item.name}: refused: the clip does not say how many frames it has; set max frames (at most {limit})"
            )
    elif frames > limit:
        raise ImageError(
            f"{item.name}: refused: {frames} frames in the chosen range is more than this app's limit of {limit}"
            " (trim with start/end or max frames)"
        )
    return info
