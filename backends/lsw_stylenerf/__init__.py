"""StyleNeRF generator backend (3D-aware, camera-conditioned)."""

from lsw_stylenerf.generator import StyleNeRFGenerator
from lsw_stylenerf.loader import load_stylenerf
from lsw_stylenerf.presets import ffhq_init_kwargs

__all__ = ["StyleNeRFGenerator", "load_stylenerf", "ffhq_init_kwargs"]
