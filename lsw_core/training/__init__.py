"""Training a mixer: settings (`config`, `recipes`), the trainer (`trainer`), its run folder
(`run_folder`), the losses (`losses`, `identity_loss`, `calibration`) and scale (`distributed`,
`precision`)."""

from lsw_core._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "lsw_core.training.config": ["TrainConfig"],
        "lsw_core.training.recipes": ["cpu_recipe", "recipe"],
        "lsw_core.training.trainer": ["MixerTrainer"],
    },
)
