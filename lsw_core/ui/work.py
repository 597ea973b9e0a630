"""What every action of the app shares: where its files go (`Results`), how it reports progress
(`Report`), and its inputs as aligned crops (`prepare`), seeds rendered by the generator."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from lsw_core.errors import LswError
from lsw_core.images import from_tensor, label_grid, make_grid, save_image, save_photo, to_tensor
from lsw_core.interfaces import Aligner
from lsw_core.inversion.cache import PivotCache
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo.faces import PreparedFace, prepare_face
from lsw_core.ui.inputs import Side
from lsw_core.ui.sessions import Sessions

#: progress(fraction in [0, 1] or None, one line saying what runs)
Report = Callable[[float | None, str], None]


def no_report(fraction: float | None, text: str) -> None:
    """A `Report` that shows nothing."""


@attrs.define
class Results:
    """One session's files: results and intermediates in its work folder (removed when the session
    ends), each result also copied to the app's output folder `out` when there is one."""

    sessions: Sessions
    session: str | None
    out: Path | None = None

    @property
    def folder(self) -> Path:
        return self.sessions.folder(self.session)

    def pivots(self) -> PivotCache:
        """The session's pivot cache: a repeated photo skips projection, a repeated pair tuning."""
        return PivotCache(self.folder / "pivots")

    def memo(self) -> dict[Any, Any]:
        return self.sessions.memo(self.session)

    def path(self, stem: str, suffix: str = ".png") -> Path:
        return self.sessions.result_path(self.session, stem, suffix)

    def keep(self, path: Path) -> Path:
        """`path` (a result in the work folder), also copied to the output folder if the app has one."""
        if self.out is not None:
            self.out.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, self.out / path.name)
        return path

    def photo(self, stem: str, image: np.ndarray) -> Path:
        path = self.path(stem)
        save_photo(path, image)
        return self.keep(path)

    def image(self, stem: str, image: torch.Tensor, suffix: str = ".png") -> Path:
        path = self.path(stem, suffix)
        save_image(image, path)
        return self.keep(path)


def render_seed(swapper: Swapper, seed: int) -> np.ndarray:
    """The generator's face of a seed (as `lsw swap seed:N` draws it), RGB uint8 [R, R, 3]."""
    ws = swapper.wplus_from_z(swapper.latents_from_seeds([seed]))
    return from_tensor(swapper.render(ws))


def prepare(
    side: Side, swapper: Swapper, aligner: Aligner | None, *, aligned: bool | None, face_index: int | None = None
) -> PreparedFace:
    """A side as the aligned crop inversion takes: a photo's chosen face, or a seed's rendering."""
    if side.seed is not None:
        if face_index:
            raise LswError(f"{side.name}: a seed has one face; the face choice is for photos")
        return PreparedFace(crop=render_seed(swapper, side.seed), name=side.name)
    return prepare_face(side.photo.path, swapper.generator.resolution, aligner, aligned=aligned, face_index=face_index)


def labelled_row(images: list[np.ndarray], labels: list[str]) -> torch.Tensor:
    """Equally sized RGB images side by side, each named above: [3, H, W] in [-1, 1]."""
    row = torch.cat([to_tensor(image) for image in images])
    return label_grid(make_grid(row, ncols=len(images)), row.shape[-2:], cols=labels)


def inversion_progress(report: Report):
    """The inverters' step callback as page progress: stage, step and PSNR."""

    def progress(step: int, total: int, info: dict) -> None:
        psnr = info.get("psnr")
        shown = f", lowest PSNR {psnr:.1f} dB" if psnr is not None else ""
        report((step + 1) / max(total, 1), f"inverting: step {step + 1} of {total}{shown}")

    return progress
