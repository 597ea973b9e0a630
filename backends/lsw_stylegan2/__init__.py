"""StyleGAN2 generator backend (NVIDIA stylegan2-ada-pytorch architecture, in our own code)."""

from lsw_stylegan2.generator import StyleGAN2Generator
from lsw_stylegan2.loaders import CONFIG_F, build_generator, load_stylegan2, read_nvidia_pickle
from lsw_stylegan2.rosinality import from_rosinality, to_rosinality

__all__ = [
    "CONFIG_F",
    "StyleGAN2Generator",
    "build_generator",
    "from_rosinality",
    "load_stylegan2",
    "read_nvidia_pickle",
    "to_rosinality",
]
