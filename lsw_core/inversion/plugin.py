"""Plugin registration for inversion: inverters "w", "wplus", "pti"."""

from functools import partial

from lsw_core.plugins import hookimpl


@hookimpl
def register_inverters(register):
    from lsw_core.inversion.inverters import make_projector, make_pti

    register("w", partial(make_projector, "w"), description="W projection (pixel + perceptual loss, noise regularised)")
    register("wplus", partial(make_projector, "wplus"), description="W+ projection")
    register(
        "pti", make_pti, description="PTI: W pivots, then one generator copy tuned on all images (450 + 350 steps)"
    )
