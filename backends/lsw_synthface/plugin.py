"""Plugin registration for lsw_synthface: the synthetic world's generators, identity embedder, shape model, latent encoder and fit command."""

from lsw_core.plugins import hookimpl
from lsw_synthface.nets_plugin import *  # noqa: F401,F403  (the embedder, regressor and `lsw synthface fit`)


@hookimpl
def register_generators(register):
    from lsw_synthface.generator import synthface, synthface3d

    register("synthface", synthface, description="synthetic face world, 18x512 W+ like StyleGAN2 (no download)")
    register("synthface3d", synthface3d, description="synthetic face world, 21x512 W+ and a camera like StyleNeRF")


@hookimpl
def register_latent_encoders(register):
    def synthface_encoder(checkpoint=None):
        from lsw_core.inversion.encoder import load_encoder
        from lsw_synthface.nets import shipped_weights

        return load_encoder(checkpoint if checkpoint is not None else shipped_weights("encoder.safetensors"))

    register(
        "synthface",
        synthface_encoder,
        description="start of W projection for the synthface generator (small CNN, shipped weights)",
    )
