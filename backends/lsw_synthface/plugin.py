"""Plugin registration for lsw_synthface: the synthetic world's generator backends."""

from lsw_core.plugins import hookimpl


@hookimpl
def register_generators(register):
    from lsw_synthface.generator import synthface, synthface3d

    register("synthface", synthface, description="synthetic face world, 18x512 W+ like StyleGAN2 (no download)")
    register("synthface3d", synthface3d, description="synthetic face world, 21x512 W+ and a camera like StyleNeRF")
from lsw_synthface.nets_plugin import *  # noqa: E402,F401,F403
