"""Settings of `lsw landmarks train` (kept apart from the net so the command line can show them
without loading torch)."""

from __future__ import annotations

import attrs

from lsw_core.errors import LswError
from lsw_core.validators import integer, number

#: Widest channel or hidden count a landmark net may have (`lsw_core.formats.bounds.MAX_WIDTH`).
MAX_WIDTH = 4096


@attrs.frozen
class LandmarkNetConfig:
    """`samples` generator images labelled by dlib (those it places landmarks on are kept), of which
    `validation` are held out; `steps` of Adam at `lr` on batches of `batch_size`; samples drawn with ψ
    uniform in [`psi_min`, 1] (swaps lie between faces, not only at the mean) from `seed`."""

    samples: int = attrs.field(default=6000, validator=integer(ge=2))
    validation: int = attrs.field(default=500, validator=integer(ge=1))
    steps: int = attrs.field(default=3000, validator=integer(ge=1))
    batch_size: int = attrs.field(default=64, validator=integer(ge=1))
    lr: float = attrs.field(default=1e-3, validator=number(gt=0))
    psi_min: float = attrs.field(default=0.5, validator=number(ge=0, le=1))
    size: int = attrs.field(default=64, validator=integer(ge=16, le=1024))
    channels: int = attrs.field(default=32, validator=integer(ge=1, le=MAX_WIDTH))
    hidden: int = attrs.field(default=256, validator=integer(ge=1, le=MAX_WIDTH))
    seed: int = attrs.field(default=0, validator=integer(ge=0))

    def __attrs_post_init__(self) -> None:
        if self.validation >= self.samples:
            raise LswError(f"validation ({self.validation}) must be fewer than samples ({self.samples})")
        if self.size % 16:
            raise LswError(f"size {self.size}: expected a multiple of 16")
