"""GAN inversion: W / W+ projectors and pivotal tuning (PTI), generic over any Generator."""

from lsw_core.inversion.inverters import ProjectionInverter, PTIInverter, make_projector, make_pti
from lsw_core.inversion.projector import project, w_statistics
from lsw_core.inversion.pti import apply_delta, parameter_delta, tune
from lsw_core.inversion.quality import psnr, reconstruction_metrics, ssim
from lsw_core.inversion.schedule import ProjectionConfig, TuningConfig, authors_schedule, fast_schedule

__all__ = [
    "PTIInverter",
    "ProjectionConfig",
    "ProjectionInverter",
    "TuningConfig",
    "apply_delta",
    "authors_schedule",
    "fast_schedule",
    "make_projector",
    "make_pti",
    "parameter_delta",
    "project",
    "psnr",
    "reconstruction_metrics",
    "ssim",
    "tune",
    "w_statistics",
]
