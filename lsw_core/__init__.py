"""lsw-core: LatentSwap face swapping on any pretrained generator behind one plugin interface.

The public API, imported on first use so that `import lsw_core` stays cheap:

- the plugin contract: `Generator`, `IdentityEmbedder`, `ShapeModel`, `Inverter` (and `Inversion`),
  `Aligner` (and `AlignedFace`), `PerceptualLoss`, `LatentEncoder`, `Camera`, `CameraSpec`, `hookimpl`;
- loaders of installed plugins: `load_generator`, `load_identity_embedder`, `load_shape_model`,
  `load_inverter`, `load_aligner`, `load_perceptual_loss`;
- models and pipelines: `LatentMixer`, `Swapper` (latents), `MixerTrainer` + `TrainConfig`,
  `PhotoSwapper`, `VideoSwapper`, `evaluate_mixer`.

Packages by job, each importing only those below it: `cli` → `convert` → `photo`, `evaluation`,
`training` → `inversion`, `mixing` → the contract (`interfaces`, `camera`, `geometry`, `plugins`) →
`formats` and helpers (`images`, `checks`, `validators`, `errors`).
"""

from lsw_core._compat import install_old_module_paths
from lsw_core._lazy import lazy_exports

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "lsw_core.camera": ["Camera", "CameraSpec"],
        "lsw_core.errors": ["CheckpointError", "ImageError", "LswError", "PluginError", "SettingError", "ShapeError"],
        "lsw_core.geometry": ["AlignedFace"],
        "lsw_core.interfaces": [
            "Aligner",
            "Generator",
            "IdentityEmbedder",
            "Inversion",
            "Judge",
            "Judgement",
            "Inverter",
            "LatentEncoder",
            "LatentLayout",
            "PerceptualLoss",
            "ShapeModel",
            "TrainingDefaults",
            "layer_groups_from_resolutions",
        ],
        "lsw_core.plugins": [
            "hookimpl",
            "load_aligner",
            "load_generator",
            "load_identity_embedder",
            "load_inverter",
            "load_judge",
            "load_perceptual_loss",
            "load_shape_model",
        ],
        "lsw_core.mixing.mixer": ["LatentMixer"],
        "lsw_core.mixing.swapper": ["Swapper"],
        "lsw_core.training.config": ["TrainConfig"],
        "lsw_core.training.recipes": ["recipe"],
        "lsw_core.training.trainer": ["MixerTrainer"],
        "lsw_core.evaluation.latent_pairs": ["evaluate_mixer"],
        "lsw_core.inversion.cache": ["CachedInverter", "PivotCache"],
        "lsw_core.photo.paste": ["PasteConfig"],
        "lsw_core.photo.swapper": ["PhotoSwapper"],
        "lsw_core.photo.video": ["VideoSwapper"],
    },
    submodules=["cli", "convert", "evaluation", "formats", "inversion", "mixing", "photo", "training"],
)

install_old_module_paths()
