"""lsw-core: LatentSwap face swapping on any pretrained generator behind one plugin interface."""

from lsw_core.camera import Camera, CameraSpec
from lsw_core.errors import CheckpointError, ImageError, LswError, PluginError, ShapeError
from lsw_core.interfaces import (
    Aligner,
    Generator,
    IdentityEmbedder,
    Inversion,
    Inverter,
    LatentEncoder,
    LatentLayout,
    PerceptualLoss,
    ShapeModel,
    TrainingDefaults,
    layer_groups_from_resolutions,
)
from lsw_core.plugins import (
    hookimpl,
    load_aligner,
    load_generator,
    load_identity_embedder,
    load_inverter,
    load_shape_model,
)

__version__ = "0.1.0"

__all__ = [
    "Aligner",
    "Camera",
    "CameraSpec",
    "CheckpointError",
    "Generator",
    "IdentityEmbedder",
    "ImageError",
    "Inversion",
    "Inverter",
    "LatentEncoder",
    "LatentLayout",
    "LswError",
    "PerceptualLoss",
    "PluginError",
    "ShapeError",
    "ShapeModel",
    "TrainingDefaults",
    "hookimpl",
    "layer_groups_from_resolutions",
    "load_aligner",
    "load_generator",
    "load_identity_embedder",
    "load_inverter",
    "load_shape_model",
]
