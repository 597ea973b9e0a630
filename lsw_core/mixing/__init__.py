"""Mixing latent codes: the latent mixer F (`mixer`), the latent spaces Z / W / W+ it mixes
(`latents`), the swapper that mixes and renders (`swapper`) and edit directions (`editing`)."""

from lsw_core._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "lsw_core.mixing.mixer": ["GatedLatentMixer", "LatentMixer", "read_mixer_config"],
        "lsw_core.mixing.swapper": ["SwapResult", "Swapper"],
    },
)
