"""MobileStyleGAN generator backend (the 2021 FFHQ model, read from OpenVINO IR files, in our own code)."""

from lsw_mobilestylegan.generator import MobileStyleGANGenerator, estimate_w_avg
from lsw_mobilestylegan.loaders import from_original, load_mobilestylegan, read_ir_folder, wheel_ir_folder

__all__ = [
    "MobileStyleGANGenerator",
    "estimate_w_avg",
    "from_original",
    "load_mobilestylegan",
    "read_ir_folder",
    "wheel_ir_folder",
]
