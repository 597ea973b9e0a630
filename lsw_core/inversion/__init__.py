"""GAN inversion: W / W+ projectors, pivotal tuning (PTI) and the latent encoder that starts
projection, generic over any Generator."""

from lsw_core.inversion.encoder import ConvLatentEncoder, EncoderConfig, load_encoder, save_encoder, train_encoder
from lsw_core.inversion.inverters import ProjectionInverter, PTIInverter, make_projector, make_pti
from lsw_core.inversion.projector import project, w_statistics
from lsw_core.inversion.pti import apply_delta, parameter_delta, tune
from lsw_core.inversion.quality import psnr, reconstruction_metrics, ssim
from lsw_core.inversion.schedule import ProjectionConfig, TuningConfig, authors_schedule, fast_schedule

__all__ = [
    "ConvLatentEncoder",
    "EncoderConfig",
    "PTIInverter",
    "ProjectionConfig",
    "ProjectionInverter",
    "TuningConfig",
    "apply_delta",
    "authors_schedule",
    "fast_schedule",
    "load_encoder",
    "make_projector",
    "make_pti",
    "parameter_delta",
    "project",
    "psnr",
    "reconstruction_metrics",
    "save_encoder",
    "ssim",
    "train_encoder",
    "tune",
    "w_statistics",
]
