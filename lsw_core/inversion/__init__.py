"""GAN inversion: W / W+ projectors, pivotal tuning (PTI) and the latent encoder that starts
projection, generic over any Generator; `cache` runs an inverter's stages through a pivot cache."""

from lsw_core._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "lsw_core.inversion.cache": ["CachedInverter", "PivotCache"],
        "lsw_core.inversion.encoder": [
            "ConvLatentEncoder",
            "EncoderConfig",
            "load_encoder",
            "save_encoder",
            "train_encoder",
        ],
        "lsw_core.inversion.inverters": ["PTIInverter", "ProjectionInverter", "make_projector", "make_pti"],
        "lsw_core.inversion.projector": ["project", "w_statistics"],
        "lsw_core.inversion.pti": ["apply_delta", "parameter_delta", "tune"],
        "lsw_core.inversion.quality": ["psnr", "reconstruction_metrics", "ssim"],
        "lsw_core.inversion.schedule": ["ProjectionConfig", "TuningConfig", "authors_schedule", "fast_schedule"],
    },
)
